package kubelet

import (
	"context"

	v1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
)

// startEvents starts the event broadcaster that writes the kubelet's
// events (Pulled, Created, Started, Killing, BackOff, Unhealthy, …) to the
// API server. It stops with ctx.
func (k *Kubelet) startEvents(ctx context.Context) {
	b := record.NewBroadcaster(record.WithContext(ctx))
	b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: k.client.CoreV1().Events("")})
	k.recorder = b.NewRecorder(scheme.Scheme, v1.EventSource{Component: "kubelet", Host: k.cfg.NodeName})
	go func() {
		<-ctx.Done()
		b.Shutdown()
	}()
}

// event records an event about pod, or about one of its containers when
// container is not empty.
func (k *Kubelet) event(pod *v1.Pod, container, eventType, reason, format string, args ...any) {
	if k.recorder == nil || pod == nil {
		return
	}
	ref := &v1.ObjectReference{
		Kind: "Pod", APIVersion: "v1", Namespace: pod.Namespace, Name: pod.Name,
		UID: pod.UID, ResourceVersion: pod.ResourceVersion,
	}
	if container != "" {
		field := "spec.containers{" + container + "}"
		for _, c := range pod.Spec.InitContainers {
			if c.Name == container {
				field = "spec.initContainers{" + container + "}"
			}
		}
		ref.FieldPath = field
	}
	k.recorder.Eventf(ref, eventType, reason, format, args...)
}
