package groups_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/bosun-k8s/bosun/internal/testserver"
)

func template(labels map[string]string, restart corev1.RestartPolicy) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec: corev1.PodSpec{RestartPolicy: restart, Containers: []corev1.Container{{Name: "web", Image: "bosun.local/hello:v1"}}}}
}

// TestAgainstAPIServer drives the group kinds through the real API server with client-go.
func TestAgainstAPIServer(t *testing.T) {
	ts := testserver.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := ts.Client
	labels := map[string]string{"app": "web"}

	t.Run("deployment defaults, generation, scale and table", func(t *testing.T) {
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: template(labels, "")}}
		got, err := c.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		if *got.Spec.Replicas != 1 || got.Spec.Strategy.RollingUpdate.MaxSurge.StrVal != "25%" || *got.Spec.ProgressDeadlineSeconds != 600 ||
			got.Generation != 1 || got.Spec.Template.Spec.DNSPolicy != corev1.DNSClusterFirst {
			t.Errorf("created deployment: generation %d spec %+v", got.Generation, got.Spec)
		}
		// replacing with the same manifest is no change; an annotation is
		d.ResourceVersion = got.ResourceVersion
		again, err := c.AppsV1().Deployments("default").Update(ctx, d, metav1.UpdateOptions{})
		if err != nil || again.Generation != 1 {
			t.Fatalf("resend manifest: generation %v, err %v", again.GetGeneration(), err)
		}
		again.Annotations = map[string]string{"note": "x"}
		annotated, err := c.AppsV1().Deployments("default").Update(ctx, again, metav1.UpdateOptions{})
		if err != nil || annotated.Generation != 2 {
			t.Fatalf("annotate: generation %v, err %v", annotated.GetGeneration(), err)
		}

		sc, err := c.AppsV1().Deployments("default").GetScale(ctx, "web", metav1.GetOptions{})
		if err != nil || sc.Spec.Replicas != 1 || sc.Status.Selector != "app=web" {
			t.Fatalf("get scale: %+v, err %v", sc, err)
		}
		sc.Spec.Replicas = 3
		sc, err = c.AppsV1().Deployments("default").UpdateScale(ctx, "web", sc, metav1.UpdateOptions{})
		if err != nil || sc.Spec.Replicas != 3 || sc.Status.Selector != "app=web" {
			t.Fatalf("scale: %+v, err %v", sc, err)
		}

		raw, err := c.AppsV1().RESTClient().Get().Namespace("default").Resource("deployments").
			SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").DoRaw(ctx)
		if err != nil {
			t.Fatalf("table: %v", err)
		}
		var tbl metav1.Table
		if err := json.Unmarshal(raw, &tbl); err != nil {
			t.Fatalf("decode table: %v", err)
		}
		var names []string
		for _, col := range tbl.ColumnDefinitions {
			names = append(names, col.Name)
		}
		if strings.Join(names, ",") != "Name,Ready,Up-to-date,Available,Age,Containers,Images,Selector" || len(tbl.Rows) != 1 {
			t.Fatalf("columns %v, %d rows", names, len(tbl.Rows))
		}
		cells := tbl.Rows[0].Cells
		if cells[0] != "web" || cells[1] != "0/3" || cells[6] != "bosun.local/hello:v1" || cells[7] != "app=web" {
			t.Errorf("row %v", cells)
		}
	})

	t.Run("status and scale of other workloads", func(t *testing.T) {
		d, err := c.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("get: %v", err)
		}
		d.Status = appsv1.DeploymentStatus{Replicas: 1, ReadyReplicas: 2}
		if _, err := c.AppsV1().Deployments("default").UpdateStatus(ctx, d, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) ||
			!strings.Contains(err.Error(), "status.readyReplicas: Invalid value: 2: cannot be greater than status.replicas") {
			t.Errorf("bad status: %v", err)
		}

		ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "agent"}, Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: template(labels, "")}}
		got, err := c.AppsV1().DaemonSets("default").Create(ctx, ds, metav1.CreateOptions{})
		if err != nil || got.Annotations["deprecated.daemonset.template.generation"] != "1" {
			t.Fatalf("daemonset: annotations %v, err %v", got.GetAnnotations(), err)
		}
		got.Spec.Template.Spec.Containers[0].Image = "bosun.local/hello:v2"
		got, err = c.AppsV1().DaemonSets("default").Update(ctx, got, metav1.UpdateOptions{})
		if err != nil || got.Annotations["deprecated.daemonset.template.generation"] != "2" || got.Generation != 2 {
			t.Fatalf("daemonset update: generation %d annotations %v, err %v", got.GetGeneration(), got.GetAnnotations(), err)
		}

		sts := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "db"}, Spec: appsv1.StatefulSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: template(labels, "")}}
		if _, err := c.AppsV1().StatefulSets("default").Create(ctx, sts, metav1.CreateOptions{}); err != nil {
			t.Fatalf("statefulset: %v", err)
		}
		sc, err := c.AppsV1().StatefulSets("default").GetScale(ctx, "db", metav1.GetOptions{})
		if err != nil || sc.Spec.Replicas != 1 || sc.Status.Selector != "app=web" {
			t.Fatalf("statefulset scale: %+v, err %v", sc, err)
		}
	})

	t.Run("422 worded as upstream", func(t *testing.T) {
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "bad"}, Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: template(map[string]string{"app": "other"}, "")}}
		_, err := c.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{})
		if !apierrors.IsInvalid(err) {
			t.Fatalf("want 422, got %v", err)
		}
		want := `Deployment.apps "bad" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{"app":"other"}: ` + "`selector` does not match template `labels`"
		if err.Error() != want {
			t.Errorf("error\n %s\nwant\n %s", err, want)
		}
		s := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "db.primary"}, Spec: appsv1.StatefulSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: template(labels, "")}}
		if _, err := c.AppsV1().StatefulSets("default").Create(ctx, s, metav1.CreateOptions{}); !apierrors.IsInvalid(err) ||
			!strings.Contains(err.Error(), `metadata.name: Invalid value: "db.primary": must not contain dots`) {
			t.Errorf("statefulset with a dotted name: %v", err)
		}
	})

	t.Run("job selector generated from its uid", func(t *testing.T) {
		j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "pi"}, Spec: batchv1.JobSpec{Template: template(map[string]string{"app": "pi"}, corev1.RestartPolicyNever)}}
		got, err := c.BatchV1().Jobs("default").Create(ctx, j, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		uid := string(got.UID)
		if uid == "" || got.Spec.Selector.MatchLabels["batch.kubernetes.io/controller-uid"] != uid ||
			got.Spec.Template.Labels["controller-uid"] != uid || got.Labels["job-name"] != "pi" || *got.Spec.BackoffLimit != 6 {
			t.Errorf("job: labels %v selector %v template labels %v", got.Labels, got.Spec.Selector, got.Spec.Template.Labels)
		}
		list, err := c.BatchV1().Jobs("default").List(ctx, metav1.ListOptions{FieldSelector: "status.successful=0"})
		if err != nil || len(list.Items) != 1 {
			t.Errorf("field selector: %d jobs, err %v", len(list.Items), err)
		}
		// the template is immutable
		patch := []byte(`{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"other"}]}}}}`)
		_, err = c.BatchV1().Jobs("default").Patch(ctx, "pi", types.StrategicMergePatchType, patch, metav1.PatchOptions{})
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.template: Invalid value: ") || !strings.Contains(err.Error(), "field is immutable") {
			t.Errorf("template patch: %v", err)
		}
	})

	t.Run("rbac names with colons", func(t *testing.T) {
		cr := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "system:controller:test"},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get"}}}}
		if _, err := c.RbacV1().ClusterRoles().Create(ctx, cr, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create cluster role: %v", err)
		}
		rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "read"}, RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: cr.Name},
			Subjects: []rbacv1.Subject{{Kind: "User", Name: "alice"}}}
		got, err := c.RbacV1().RoleBindings("default").Create(ctx, rb, metav1.CreateOptions{})
		if err != nil || got.RoleRef.APIGroup != rbacv1.GroupName || got.Subjects[0].APIGroup != rbacv1.GroupName {
			t.Fatalf("role binding: %+v, err %v", got, err)
		}
		noVerbs := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "r"}, Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}}}}
		if _, err := c.RbacV1().Roles("default").Create(ctx, noVerbs, metav1.CreateOptions{}); !apierrors.IsInvalid(err) ||
			!strings.Contains(err.Error(), "rules[0].verbs: Required value: verbs must contain at least one value") {
			t.Errorf("role without verbs: %v", err)
		}
	})
}
