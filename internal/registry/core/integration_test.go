package core_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/bosun-k8s/bosun/internal/testserver"
)

// TestAgainstAPIServer drives the core kinds through the real API server with client-go.
func TestAgainstAPIServer(t *testing.T) {
	ts := testserver.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := ts.Client

	t.Run("pod defaults and status", func(t *testing.T) {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "web", Image: "bosun.local/hello:v1",
			Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")}},
		}}}}
		got, err := c.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("create pod: %v", err)
		}
		s := got.Spec
		if s.RestartPolicy != corev1.RestartPolicyAlways || s.DNSPolicy != corev1.DNSClusterFirst ||
			*s.TerminationGracePeriodSeconds != 30 || s.SchedulerName != "default-scheduler" ||
			s.Containers[0].ImagePullPolicy != corev1.PullIfNotPresent || s.Containers[0].TerminationMessagePath != "/dev/termination-log" {
			t.Errorf("pod spec defaults: %+v", s)
		}
		if got.Status.Phase != corev1.PodPending || got.Status.QOSClass != corev1.PodQOSGuaranteed {
			t.Errorf("pod status: %+v", got.Status)
		}
		list, err := c.CoreV1().Pods("default").List(ctx, metav1.ListOptions{FieldSelector: "status.phase=Pending,spec.nodeName="})
		if err != nil || len(list.Items) != 1 {
			t.Errorf("field selector list: %v items, err %v", len(list.Items), err)
		}
	})

	t.Run("pod validation message", func(t *testing.T) {
		bad := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "bad"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "Foo"}}}}
		_, err := c.CoreV1().Pods("default").Create(ctx, bad, metav1.CreateOptions{})
		if !apierrors.IsInvalid(err) {
			t.Fatalf("want 422, got %v", err)
		}
		msg := err.Error()
		for _, want := range []string{`Pod "bad" is invalid`, `spec.containers[0].name: Invalid value: "Foo": a lowercase RFC 1123 label must consist of`,
			"spec.containers[0].image: Required value"} {
			if !strings.Contains(msg, want) {
				t.Errorf("error %q lacks %q", msg, want)
			}
		}
	})

	t.Run("pod table", func(t *testing.T) {
		raw, err := c.CoreV1().RESTClient().Get().Namespace("default").Resource("pods").
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
		if strings.Join(names, ",") != "Name,Ready,Status,Restarts,Age,IP,Node,Nominated Node,Readiness Gates" {
			t.Errorf("columns %v", names)
		}
		if len(tbl.Rows) != 1 || tbl.Rows[0].Cells[1] != "0/1" || tbl.Rows[0].Cells[2] != "Pending" || tbl.Rows[0].Cells[3] != "0" {
			t.Errorf("rows %+v", tbl.Rows)
		}
		// An unscheduled pod is deleted at once.
		if err := c.CoreV1().Pods("default").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
			t.Fatalf("delete: %v", err)
		}
		if _, err := c.CoreV1().Pods("default").Get(ctx, "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("unscheduled pod still there: %v", err)
		}
	})

	t.Run("event table and field selector", func(t *testing.T) {
		ev := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "web.1"}, Reason: "Pulled", Type: "Normal", Message: "pulled",
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web"},
			FirstTimestamp: metav1.Now(), LastTimestamp: metav1.Now(), Count: 2}
		if _, err := c.CoreV1().Events("default").Create(ctx, ev, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create event: %v", err)
		}
		list, err := c.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=web,reason=Pulled"})
		if err != nil || len(list.Items) != 1 {
			t.Errorf("field selector: %d items, err %v", len(list.Items), err)
		}
		raw, err := c.CoreV1().RESTClient().Get().Namespace("default").Resource("events").
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
		if strings.Join(names, ",") != "Last Seen,Type,Reason,Object,Subobject,Source,Message,First Seen,Count,Name" {
			t.Errorf("columns %v", names)
		}
		if len(tbl.Rows) != 1 || tbl.Rows[0].Cells[3] != "pod/web" || tbl.Rows[0].Cells[9] != "web.1" {
			t.Errorf("rows %+v", tbl.Rows)
		}
	})

	t.Run("bound pod: status, replace, graceful delete", func(t *testing.T) {
		pods := c.CoreV1().Pods("default")
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "bound"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "app", Image: "bosun.local/hello:v1"}}}}
		created, err := pods.Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		if err := pods.Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "bound"},
			Target: corev1.ObjectReference{Kind: "Node", Name: "node-1"}}, metav1.CreateOptions{}); err != nil {
			t.Fatalf("bind: %v", err)
		}
		cur, err := pods.Get(ctx, "bound", metav1.GetOptions{})
		if err != nil || cur.Spec.NodeName != "node-1" {
			t.Fatalf("after bind: %v %q", err, cur.Spec.NodeName)
		}
		cur.Status.Phase = corev1.PodRunning
		cur.Status.PodIP = "10.42.0.7"
		cur.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", Ready: true,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
		st, err := pods.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		if err != nil {
			t.Fatalf("status: %v", err)
		}
		if len(st.Status.PodIPs) != 1 || st.Status.PodIPs[0].IP != "10.42.0.7" || st.Status.QOSClass != corev1.PodQOSBestEffort {
			t.Errorf("status after update: %+v", st.Status)
		}
		list, err := pods.List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=node-1,status.podIP=10.42.0.7"})
		if err != nil || len(list.Items) != 1 {
			t.Errorf("field selector on node and IP: %d items, err %v", len(list.Items), err)
		}
		// A replace of the pod as created (admission's service account, token volume and
		// tolerations in it) but without nodeName keeps the binding.
		replaced := created.DeepCopy()
		replaced.ResourceVersion = st.ResourceVersion
		replaced.Spec.Containers[0].Image = "bosun.local/hello:v2"
		up, err := pods.Update(ctx, replaced, metav1.UpdateOptions{})
		if err != nil {
			t.Fatalf("replace: %v", err)
		}
		if up.Spec.NodeName != "node-1" || up.Spec.Containers[0].Image != "bosun.local/hello:v2" || up.Status.PodIP != "10.42.0.7" {
			t.Errorf("after replace: node %q image %q ip %q", up.Spec.NodeName, up.Spec.Containers[0].Image, up.Status.PodIP)
		}
		changed := up.DeepCopy()
		changed.Spec.RestartPolicy = corev1.RestartPolicyNever
		if _, err := pods.Update(ctx, changed, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) ||
			!strings.Contains(err.Error(), "pod updates may not change fields other than") {
			t.Errorf("restartPolicy change: %v", err)
		}
		// A bound pod is deleted gracefully: it stays, terminating, for its grace period.
		if err := pods.Delete(ctx, "bound", metav1.DeleteOptions{}); err != nil {
			t.Fatalf("delete: %v", err)
		}
		gone, err := pods.Get(ctx, "bound", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("bound pod vanished at once: %v", err)
		}
		if gone.DeletionTimestamp == nil || gone.DeletionGracePeriodSeconds == nil || *gone.DeletionGracePeriodSeconds != 30 {
			t.Errorf("deletion: ts %v grace %v", gone.DeletionTimestamp, gone.DeletionGracePeriodSeconds)
		}
		zero := int64(0)
		if err := pods.Delete(ctx, "bound", metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
			t.Fatalf("force delete: %v", err)
		}
		if _, err := pods.Get(ctx, "bound", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("after force delete: %v", err)
		}
	})

	t.Run("namespace, service, secret", func(t *testing.T) {
		ns, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("create namespace: %v", err)
		}
		if ns.Status.Phase != corev1.NamespaceActive || len(ns.Spec.Finalizers) != 1 || ns.Labels["kubernetes.io/metadata.name"] != "team-a" {
			t.Errorf("namespace %+v", ns)
		}
		gen, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "gen-"}}, metav1.CreateOptions{})
		if err != nil || gen.Labels["kubernetes.io/metadata.name"] != gen.Name {
			t.Errorf("generated namespace: %v %v", err, gen.Labels)
		}
		_, err = c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "a.b"}}, metav1.CreateOptions{})
		if !apierrors.IsInvalid(err) {
			t.Errorf("dotted namespace name accepted: %v", err)
		}
		sec, err := c.CoreV1().Secrets("team-a").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s"},
			StringData: map[string]string{"user": "admin"}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("create secret: %v", err)
		}
		if sec.Type != corev1.SecretTypeOpaque || string(sec.Data["user"]) != "admin" || sec.StringData != nil {
			t.Errorf("secret %+v", sec)
		}
		svc, err := c.CoreV1().Services("team-a").Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web"},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("create service: %v", err)
		}
		if svc.Spec.Type != corev1.ServiceTypeClusterIP || svc.Spec.Ports[0].TargetPort.IntValue() != 80 || svc.Spec.SessionAffinity != corev1.ServiceAffinityNone {
			t.Errorf("service %+v", svc.Spec)
		}
		_, err = c.CoreV1().Services("team-a").Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "two"},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}, {Port: 81}}}}, metav1.CreateOptions{})
		if err == nil || !strings.Contains(err.Error(), "spec.ports[0].name: Required value") {
			t.Errorf("unnamed ports: %v", err)
		}
	})
}
