package endpoints

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/bosun-k8s/bosun/internal/controller/controllertest"
)

func eventually(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func startController(t *testing.T, client kubernetes.Interface) {
	t.Helper()
	c, err := New(Config{Client: client})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// state renders the Endpoints and slices of ns/web.
func state(ctx context.Context, client kubernetes.Interface) (string, error) {
	ep, err := client.CoreV1().Endpoints("ns").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	sls, err := client.DiscoveryV1().EndpointSlices("ns").List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=web"})
	if err != nil {
		return "", err
	}
	var groups []sliceGroup
	for _, sl := range sls.Items {
		if sl.Labels[discoveryv1.LabelManagedBy] != ManagedBySlices || len(sl.OwnerReferences) != 1 || sl.OwnerReferences[0].Name != "web" {
			return "", fmt.Errorf("slice %s has labels %v owners %v", sl.Name, sl.Labels, sl.OwnerReferences)
		}
		groups = append(groups, sliceGroup{AddressType: sl.AddressType, Ports: sl.Ports, Endpoints: sl.Endpoints})
	}
	return renderSubsets(ep.Subsets) + "\n--\n" + renderGroups(groups), nil
}

func expect(ctx context.Context, client kubernetes.Interface, want string) func() error {
	return func() error {
		got, err := state(ctx, client)
		if err != nil {
			return err
		}
		if got != want {
			return errors.New("state:\n" + got + "\nwant:\n" + want)
		}
		return nil
	}
}

func TestControllerFollowsPods(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset(service(), pod("a", "10.42.0.9"), pod("b", "10.42.0.10", notReady))
	client.PrependReactor("create", "*", controllertest.GenerateNameReactor())
	startController(t, client)

	eventually(t, "initial endpoints", expect(ctx, client, `[http:8080/TCP] ready=10.42.0.9(a@node-a) notready=10.42.0.10(b)
--
IPv4 http/TCP/8080; 10.42.0.9(a r=true s=true t=false),10.42.0.10(b r=false s=false t=false)`))

	// b turns ready.
	b := pod("b", "10.42.0.10")
	if _, err := client.CoreV1().Pods("ns").Update(ctx, b, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "b ready", expect(ctx, client, `[http:8080/TCP] ready=10.42.0.9(a@node-a),10.42.0.10(b@node-a) notready=
--
IPv4 http/TCP/8080; 10.42.0.9(a r=true s=true t=false),10.42.0.10(b r=true s=true t=false)`))

	// a starts terminating: it leaves the Endpoints and stays in the slice
	// as serving and terminating.
	if _, err := client.CoreV1().Pods("ns").Update(ctx, pod("a", "10.42.0.9", terminating), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a terminating", expect(ctx, client, `[http:8080/TCP] ready=10.42.0.10(b@node-a) notready=
--
IPv4 http/TCP/8080; 10.42.0.9(a r=false s=true t=true),10.42.0.10(b r=true s=true t=false)`))

	// A pod whose labels no longer match leaves.
	bl := pod("b", "10.42.0.10")
	bl.Labels = map[string]string{"app": "other"}
	if _, err := client.CoreV1().Pods("ns").Update(ctx, bl, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "b relabelled", expect(ctx, client, `
--
IPv4 http/TCP/8080; 10.42.0.9(a r=false s=true t=true)`))

	// Steady state: no more writes.
	time.Sleep(200 * time.Millisecond)
	before := len(client.Actions())
	time.Sleep(300 * time.Millisecond)
	for _, a := range client.Actions()[before:] {
		if v := a.GetVerb(); v != "list" && v != "watch" && v != "get" {
			t.Errorf("write in steady state: %s", controllertest.ActionString(a))
		}
	}

	// Deleting the service deletes its Endpoints and slices.
	if err := client.CoreV1().Services("ns").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "cleanup", func() error {
		_, err := client.CoreV1().Endpoints("ns").Get(ctx, "web", metav1.GetOptions{})
		sls, _ := client.DiscoveryV1().EndpointSlices("ns").List(ctx, metav1.ListOptions{})
		if err == nil || len(sls.Items) != 0 {
			return fmt.Errorf("endpoints err=%v, %d slices", err, len(sls.Items))
		}
		return nil
	})
}

func TestSlicesSplitAt100(t *testing.T) {
	ctx := context.Background()
	objs := []runtime.Object{service()}
	for i := 0; i < 230; i++ {
		objs = append(objs, pod(fmt.Sprintf("p%03d", i), fmt.Sprintf("10.42.%d.%d", i/200, i%200+1)))
	}
	client := fake.NewClientset(objs...)
	client.PrependReactor("create", "*", controllertest.GenerateNameReactor())
	startController(t, client)
	eventually(t, "three slices", func() error {
		sls, err := client.DiscoveryV1().EndpointSlices("ns").List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		var sizes []string
		total := 0
		for _, s := range sls.Items {
			sizes = append(sizes, fmt.Sprint(len(s.Endpoints)))
			total += len(s.Endpoints)
		}
		if len(sls.Items) != 3 || total != 230 {
			return fmt.Errorf("slices of sizes %s", strings.Join(sizes, ","))
		}
		return nil
	})
}

func TestMirroring(t *testing.T) {
	ctx := context.Background()
	svc := service(func(s *corev1.Service) { s.Name = "ext"; s.Spec.Selector = nil })
	ep := &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "ext", Labels: map[string]string{"team": "a"},
			Annotations: map[string]string{"note": "x", corev1.LastAppliedConfigAnnotation: "{}"}},
		Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: "192.0.2.1"}},
			Ports:     []corev1.EndpointPort{{Name: "https", Port: 6443, Protocol: corev1.ProtocolTCP}},
		}},
	}
	skipped := ep.DeepCopy()
	skipped.Name = "skipped"
	skipped.Labels = map[string]string{LabelSkipMirror: "true"}
	svc2 := svc.DeepCopy()
	svc2.Name = "skipped"
	client := fake.NewClientset(svc, ep, svc2, skipped)
	client.PrependReactor("create", "*", controllertest.GenerateNameReactor())
	startController(t, client)
	eventually(t, "mirrored slice", func() error {
		sls, err := client.DiscoveryV1().EndpointSlices("ns").List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		if len(sls.Items) != 1 {
			return fmt.Errorf("%d slices", len(sls.Items))
		}
		s := sls.Items[0]
		if s.Labels[discoveryv1.LabelServiceName] != "ext" || s.Labels[discoveryv1.LabelManagedBy] != ManagedByMirroring ||
			len(s.Endpoints) != 1 || s.Endpoints[0].Addresses[0] != "192.0.2.1" || *s.Ports[0].Port != 6443 {
			return fmt.Errorf("slice %+v", s)
		}
		if s.Labels["team"] != "a" || s.Annotations["note"] != "x" || s.Annotations[corev1.LastAppliedConfigAnnotation] != "" ||
			len(s.OwnerReferences) != 1 || s.OwnerReferences[0].Kind != "Endpoints" || s.OwnerReferences[0].Name != "ext" {
			return fmt.Errorf("slice metadata %+v", s.ObjectMeta)
		}
		return nil
	})
	// The Endpoints object of a selector-less service is left alone.
	got, err := client.CoreV1().Endpoints("ns").Get(ctx, "ext", metav1.GetOptions{})
	if err != nil || len(got.Subsets) != 1 {
		t.Errorf("user endpoints changed: %v %v", got, err)
	}
}
