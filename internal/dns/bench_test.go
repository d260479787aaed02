package dns

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
)

// BenchmarkQueryUDP measures A queries for cluster names over UDP against
// a server holding 1000 services, from parallel clients.
func BenchmarkQueryUDP(b *testing.B) {
	var objs []runtime.Object
	for i := 0; i < 1000; i++ {
		objs = append(objs, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: fmt.Sprintf("svc-%d", i)},
			Spec:       corev1.ServiceSpec{ClusterIP: fmt.Sprintf("10.43.%d.%d", i/250, i%250+1)},
		})
	}
	s, err := New(Config{Client: fake.NewClientset(objs...), Listen: "127.0.0.1:0", Upstreams: []string{}})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	select {
	case <-s.Ready():
	case <-time.After(30 * time.Second):
		b.Fatal("not ready")
	}
	addr := s.Addr()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c := &dns.Client{Timeout: 5 * time.Second}
		conn, err := c.Dial(addr)
		if err != nil {
			b.Error(err)
			return
		}
		defer conn.Close()
		i := 0
		for pb.Next() {
			m := new(dns.Msg)
			m.SetQuestion(fmt.Sprintf("svc-%d.default.svc.cluster.local.", i%1000), dns.TypeA)
			r, _, err := c.ExchangeWithConn(m, conn)
			if err != nil || len(r.Answer) != 1 {
				b.Errorf("query: %v %v", r, err)
				return
			}
			i++
		}
	})
}
