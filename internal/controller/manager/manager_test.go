package manager

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes/fake"
	metafake "k8s.io/client-go/metadata/fake"
)

func TestNewValidates(t *testing.T) {
	client := fake.NewSimpleClientset()
	tests := []struct {
		name    string
		cfg     Config
		wantErr bool
	}{
		{"no client", Config{}, true},
		{"unknown controller", Config{Client: client, Controllers: []string{"nope"}}, true},
		{"namespace controller without a REST config", Config{Client: client, Controllers: []string{"namespace"}}, true},
		{"typed controllers only", Config{Client: client, Controllers: []string{"replicaset", "deployment", "job", "serviceaccount", "nodeipam"}}, false},
		{"bad cluster CIDR", Config{Client: client, Controllers: []string{"nodeipam"}, ClusterCIDR: "10.42.0.0"}, true},
	}
	for _, tc := range tests {
		_, err := New(tc.cfg)
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: err = %v, want error %v", tc.name, err, tc.wantErr)
		}
	}
}

func TestRunStartsControllersAndStops(t *testing.T) {
	client := fake.NewSimpleClientset(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}})
	scheme := metafake.NewTestScheme()
	_ = metav1.AddMetaToScheme(scheme)
	m, err := New(Config{Client: client, Metadata: metafake.NewSimpleMetadataClient(scheme),
		Controllers: []string{"serviceaccount", "replicaset"},
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	err = wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := client.CoreV1().ServiceAccounts("team").Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	if err != nil {
		t.Fatal("the serviceaccount controller never created team/default")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run returned %v after cancel, want nil", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}
