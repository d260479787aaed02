// Package rootcacert publishes the cluster's CA bundle into every namespace
// as the ConfigMap kube-root-ca.crt (key ca.crt), as upstream's
// root-ca-cert-publisher does, so pods can verify the API server through
// the projected service-account volume. The ConfigMap is re-created when
// deleted and restored when changed.
package rootcacert

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/bosun-k8s/bosun/internal/controller/controllerutil"
)

// Name is the controller's name in logs and the manager's list.
const Name = "rootcacert"

// ConfigMap name, data key and description, as upstream.
const (
	ConfigMapName = "kube-root-ca.crt"
	DataKey       = "ca.crt"
	description   = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."
)

// Config configures the publisher.
type Config struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory
	Logger    *slog.Logger
	// RootCA is the PEM bundle to publish.
	RootCA []byte
}

// Controller publishes the CA bundle.
type Controller struct {
	client   kubernetes.Interface
	log      *slog.Logger
	rootCA   string
	nsLister corelisters.NamespaceLister
	cmLister corelisters.ConfigMapLister
	synced   []cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]
}

// New validates cfg and registers the informer handlers.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("rootcacert: Client and Informers are required")
	}
	if len(bytes.TrimSpace(cfg.RootCA)) == 0 {
		return nil, errors.New("rootcacert: RootCA is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	nsInf := cfg.Informers.Core().V1().Namespaces()
	cmInf := cfg.Informers.Core().V1().ConfigMaps()
	c := &Controller{
		client: cfg.Client, log: cfg.Logger.With("controller", Name), rootCA: string(cfg.RootCA),
		nsLister: nsInf.Lister(), cmLister: cmInf.Lister(),
		synced: []cache.InformerSynced{nsInf.Informer().HasSynced, cmInf.Informer().HasSynced},
		queue:  controllerutil.NewQueue(Name),
	}
	if _, err := nsInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.enqueueNS(obj) },
		UpdateFunc: func(_, obj any) { c.enqueueNS(obj) },
	}); err != nil {
		return nil, fmt.Errorf("rootcacert: %w", err)
	}
	cmChanged := func(obj any) {
		if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = tomb.Obj
		}
		if cm, ok := obj.(*corev1.ConfigMap); ok && cm.Name == ConfigMapName {
			c.queue.Add(cm.Namespace)
		}
	}
	if _, err := cmInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, obj any) { cmChanged(obj) },
		DeleteFunc: cmChanged,
	}); err != nil {
		return nil, fmt.Errorf("rootcacert: %w", err)
	}
	return c, nil
}

func (c *Controller) enqueueNS(obj any) {
	if ns, ok := obj.(*corev1.Namespace); ok && ns.Status.Phase != corev1.NamespaceTerminating {
		c.queue.Add(ns.Name)
	}
}

// Run runs workers until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) error {
	return controllerutil.RunWorkers(ctx, c.log, Name, c.queue, workers, c.sync, c.synced...)
}

func (c *Controller) sync(ctx context.Context, ns string) error {
	n, err := c.nsLister.Get(ns)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if n.DeletionTimestamp != nil || n.Status.Phase == corev1.NamespaceTerminating {
		return nil
	}
	cm, err := c.cmLister.ConfigMaps(ns).Get(ConfigMapName)
	switch {
	case apierrors.IsNotFound(err):
		_, err := c.client.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: ConfigMapName, Namespace: ns,
				Annotations: map[string]string{"kubernetes.io/description": description}},
			Data: map[string]string{DataKey: c.rootCA},
		}, metav1.CreateOptions{})
		if err == nil || apierrors.IsAlreadyExists(err) || apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return nil
		}
		return fmt.Errorf("create %s/%s: %w", ns, ConfigMapName, err)
	case err != nil:
		return err
	}
	if cm.Data[DataKey] == c.rootCA && len(cm.Data) == 1 && cm.Annotations["kubernetes.io/description"] == description {
		return nil
	}
	cp := cm.DeepCopy()
	cp.Data = map[string]string{DataKey: c.rootCA}
	if cp.Annotations == nil {
		cp.Annotations = map[string]string{}
	}
	cp.Annotations["kubernetes.io/description"] = description
	if _, err := c.client.CoreV1().ConfigMaps(ns).Update(ctx, cp, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("update %s/%s: %w", ns, ConfigMapName, err)
	}
	return nil
}
