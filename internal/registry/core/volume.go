package core

import (
	"path"
	"strings"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/bosun-k8s/bosun/internal/registry"
)

const isNotPositiveErrorMsg = "must be greater than zero"

func validatePositiveQuantity(q resource.Quantity, p *field.Path) field.ErrorList {
	if q.Sign() <= 0 {
		return field.ErrorList{field.Invalid(p, q.String(), isNotPositiveErrorMsg)}
	}
	return nil
}

func validateSelector(s *metav1.LabelSelector, p *field.Path) field.ErrorList {
	return metav1validation.ValidateLabelSelector(s, metav1validation.LabelSelectorValidationOptions{}, p)
}

func supportedAccessModes() []corev1.PersistentVolumeAccessMode {
	return []corev1.PersistentVolumeAccessMode{corev1.ReadOnlyMany, corev1.ReadWriteMany, corev1.ReadWriteOnce, corev1.ReadWriteOncePod}
}

func validateAccessModes(modes []corev1.PersistentVolumeAccessMode, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(modes) == 0 {
		return append(errs, field.Required(p, "at least 1 access mode is required"))
	}
	for _, m := range modes {
		switch m {
		case corev1.ReadWriteOnce, corev1.ReadOnlyMany, corev1.ReadWriteMany:
		case corev1.ReadWriteOncePod:
			if len(modes) > 1 {
				errs = append(errs, field.Forbidden(p, "may not use ReadWriteOncePod with other access modes"))
			}
		default:
			errs = append(errs, field.NotSupported(p, m, supportedAccessModes()))
		}
	}
	return errs
}

func validateVolumeMode(m *corev1.PersistentVolumeMode, p *field.Path) field.ErrorList {
	if m == nil {
		return nil
	}
	switch *m {
	case corev1.PersistentVolumeBlock, corev1.PersistentVolumeFilesystem:
		return nil
	}
	return field.ErrorList{field.NotSupported(p, *m, []corev1.PersistentVolumeMode{corev1.PersistentVolumeBlock, corev1.PersistentVolumeFilesystem})}
}

// validatePVCSpec checks a claim spec (claims and ephemeral volume templates).
func validatePVCSpec(s *corev1.PersistentVolumeClaimSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, validateAccessModes(s.AccessModes, p.Child("accessModes"))...)
	if s.Selector != nil {
		errs = append(errs, validateSelector(s.Selector, p.Child("selector"))...)
	}
	storage, ok := s.Resources.Requests[corev1.ResourceStorage]
	rp := p.Child("resources").Key(string(corev1.ResourceStorage))
	if !ok {
		errs = append(errs, field.Required(rp, ""))
	} else if e := validatePositiveQuantity(storage, rp); len(e) > 0 {
		errs = append(errs, e...)
	} else {
		errs = append(errs, validateResourceQuantityValue(corev1.ResourceStorage, storage, rp)...)
	}
	if s.StorageClassName != nil && *s.StorageClassName != "" {
		errs = append(errs, validateDNS1123Subdomain(*s.StorageClassName, p.Child("storageClassName"))...)
	}
	errs = append(errs, validateVolumeMode(s.VolumeMode, p.Child("volumeMode"))...)
	if d := s.DataSource; d != nil {
		errs = append(errs, validateDataSource(d.Name, d.Kind, d.APIGroup, p.Child("dataSource"))...)
	}
	if d := s.DataSourceRef; d != nil {
		errs = append(errs, validateDataSource(d.Name, d.Kind, d.APIGroup, p.Child("dataSourceRef"))...)
		if d.Namespace != nil && *d.Namespace != "" {
			for _, msg := range validation.IsDNS1123Label(*d.Namespace) {
				errs = append(errs, field.Invalid(p.Child("dataSourceRef", "namespace"), *d.Namespace, msg))
			}
		}
	}
	if r := s.DataSourceRef; r != nil && r.Namespace != nil && *r.Namespace != "" {
		if s.DataSource != nil {
			errs = append(errs, field.Invalid(p, p.Child("dataSource"), "may not be specified when dataSourceRef.namespace is specified"))
		}
	} else if d := s.DataSource; d != nil && r != nil {
		sameGroup := (d.APIGroup == nil) == (r.APIGroup == nil) && (d.APIGroup == nil || *d.APIGroup == *r.APIGroup)
		if !sameGroup || d.Kind != r.Kind || d.Name != r.Name {
			errs = append(errs, field.Invalid(p, p.Child("dataSource"), "must match dataSourceRef"))
		}
	}
	return errs
}

func validateDataSource(name, kind string, apiGroup *string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if name == "" {
		errs = append(errs, field.Required(p.Child("name"), ""))
	}
	if kind == "" {
		errs = append(errs, field.Required(p.Child("kind"), ""))
	}
	group := ""
	if apiGroup != nil {
		group = *apiGroup
	}
	if group == "" && kind != "PersistentVolumeClaim" {
		errs = append(errs, field.Invalid(p, kind, "must be 'PersistentVolumeClaim' when referencing the default apiGroup"))
	}
	if group != "" {
		for _, msg := range validation.IsDNS1123Subdomain(group) {
			errs = append(errs, field.Invalid(p.Child("apiGroup"), group, msg))
		}
	}
	return errs
}

func accessModesString(modes []corev1.PersistentVolumeAccessMode) string {
	has := func(m corev1.PersistentVolumeAccessMode) bool {
		for _, x := range modes {
			if x == m {
				return true
			}
		}
		return false
	}
	var out []string
	for _, m := range []struct {
		mode  corev1.PersistentVolumeAccessMode
		short string
	}{{corev1.ReadWriteOnce, "RWO"}, {corev1.ReadOnlyMany, "ROX"}, {corev1.ReadWriteMany, "RWX"}, {corev1.ReadWriteOncePod, "RWOP"}} {
		if has(m.mode) {
			out = append(out, m.short)
		}
	}
	return strings.Join(out, ",")
}

const betaStorageClassAnnotation = "volume.beta.kubernetes.io/storage-class"

func persistentVolumeKind() *registry.Kind {
	return &registry.Kind{
		GVK:                 corev1.SchemeGroupVersion.WithKind("PersistentVolume"),
		Resource:            "persistentvolumes",
		ShortNames:          []string{"pv"},
		New:                 func() runtime.Object { return &corev1.PersistentVolume{} },
		NewList:             func() runtime.Object { return &corev1.PersistentVolumeList{} },
		Status:              true,
		ReturnDeletedObject: true,
		PrepareForCreate: func(obj runtime.Object) {
			pv := obj.(*corev1.PersistentVolume)
			now := metav1.Now()
			pv.Status = corev1.PersistentVolumeStatus{Phase: corev1.VolumePending, LastPhaseTransitionTime: &now}
		},
		Default: func(obj runtime.Object) {
			pv := obj.(*corev1.PersistentVolume)
			if pv.Status.Phase == "" {
				pv.Status.Phase = corev1.VolumePending
			}
			// Volume attributes classes are off by default in 1.33; upstream drops the field.
			pv.Spec.VolumeAttributesClassName = nil
			if pv.Spec.PersistentVolumeReclaimPolicy == "" {
				pv.Spec.PersistentVolumeReclaimPolicy = corev1.PersistentVolumeReclaimRetain
			}
			if pv.Spec.VolumeMode == nil {
				m := corev1.PersistentVolumeFilesystem
				pv.Spec.VolumeMode = &m
			}
			defaultResourceList(pv.Spec.Capacity)
			if pv.Spec.HostPath != nil && pv.Spec.HostPath.Type == nil {
				t := corev1.HostPathUnset
				pv.Spec.HostPath.Type = &t
			}
		},
		Validate: func(obj runtime.Object) field.ErrorList { return validatePV(obj.(*corev1.PersistentVolume)) },
		// "name" is a legacy selectable field upstream still serves.
		Fields: func(obj runtime.Object) fields.Set {
			return fields.Set{"name": obj.(*corev1.PersistentVolume).Name}
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			pv, o := obj.(*corev1.PersistentVolume), old.(*corev1.PersistentVolume)
			var errs field.ErrorList
			if !equality.Semantic.DeepEqual(pv.Spec.PersistentVolumeSource, o.Spec.PersistentVolumeSource) {
				errs = append(errs, field.Forbidden(field.NewPath("spec", "persistentvolumesource"),
					"spec.persistentvolumesource is immutable after creation\n"+cmp.Diff(o.Spec.PersistentVolumeSource, pv.Spec.PersistentVolumeSource)))
			}
			errs = append(errs, apivalidation.ValidateImmutableField(pv.Spec.VolumeMode, o.Spec.VolumeMode, field.NewPath("volumeMode"))...)
			if o.Spec.NodeAffinity != nil {
				errs = append(errs, apivalidation.ValidateImmutableField(pv.Spec.NodeAffinity, o.Spec.NodeAffinity, field.NewPath("nodeAffinity"))...)
			}
			return errs
		},
		ValidateStatusUpdate: func(obj, old runtime.Object) field.ErrorList {
			pv, o := obj.(*corev1.PersistentVolume), old.(*corev1.PersistentVolume)
			if pv.Status.Phase == "" {
				pv.Status.Phase = corev1.VolumePending
			}
			// The phase transition time follows the phase unless the writer set it.
			if pv.Status.Phase != o.Status.Phase && equality.Semantic.DeepEqual(pv.Status.LastPhaseTransitionTime, o.Status.LastPhaseTransitionTime) {
				now := metav1.Now()
				pv.Status.LastPhaseTransitionTime = &now
			}
			return nil
		},
		Columns: []metav1.TableColumnDefinition{
			{Name: "Capacity", Type: "string", Description: "capacity is the description of the persistent volume's resources and capacity."},
			{Name: "Access Modes", Type: "string", Description: "accessModes contains all ways the volume can be mounted."},
			{Name: "Reclaim Policy", Type: "string", Description: "persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim."},
			{Name: "Status", Type: "string", Description: "phase indicates if a volume is available, bound to a claim, or released by a claim."},
			{Name: "Claim", Type: "string", Description: "claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim."},
			{Name: "StorageClass", Type: "string", Description: "StorageClass of the pv"},
			{Name: "VolumeAttributesClass", Type: "string", Description: "VolumeAttributesClass of the pv"},
			{Name: "Reason", Type: "string", Description: "reason is a brief CamelCase string that describes any failure and is meant for machine parsing and tidy display in the CLI."},
			registry.AgeColumn,
			{Name: "VolumeMode", Type: "string", Priority: 1, Description: "volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state."},
		},
		Row: func(obj runtime.Object) []interface{} {
			pv := obj.(*corev1.PersistentVolume)
			claim := ""
			if pv.Spec.ClaimRef != nil {
				claim = pv.Spec.ClaimRef.Namespace + "/" + pv.Spec.ClaimRef.Name
			}
			capacity := pv.Spec.Capacity[corev1.ResourceStorage]
			phase := string(pv.Status.Phase)
			if pv.DeletionTimestamp != nil {
				phase = "Terminating"
			}
			class := pv.Spec.StorageClassName
			if c, ok := pv.Annotations[betaStorageClassAnnotation]; ok {
				class = c
			}
			vac := "<unset>"
			if pv.Spec.VolumeAttributesClassName != nil {
				vac = *pv.Spec.VolumeAttributesClassName
			}
			mode := "<unset>"
			if pv.Spec.VolumeMode != nil {
				mode = string(*pv.Spec.VolumeMode)
			}
			return []interface{}{capacity.String(), accessModesString(pv.Spec.AccessModes), string(pv.Spec.PersistentVolumeReclaimPolicy),
				phase, claim, class, vac, pv.Status.Reason, age(&pv.ObjectMeta), mode}
		},
	}
}

func validatePV(pv *corev1.PersistentVolume) field.ErrorList {
	var errs field.ErrorList
	sp := field.NewPath("spec")
	if len(pv.Spec.AccessModes) == 0 {
		errs = append(errs, field.Required(sp.Child("accessModes"), ""))
	}
	rwop, other := false, false
	for _, m := range pv.Spec.AccessModes {
		switch m {
		case corev1.ReadWriteOncePod:
			rwop = true
		case corev1.ReadWriteOnce, corev1.ReadOnlyMany, corev1.ReadWriteMany:
			other = true
		default:
			errs = append(errs, field.NotSupported(sp.Child("accessModes"), m, supportedAccessModes()))
		}
	}
	if rwop && other {
		errs = append(errs, field.Forbidden(sp.Child("accessModes"), "may not use ReadWriteOncePod with other access modes"))
	}
	if len(pv.Spec.Capacity) == 0 {
		errs = append(errs, field.Required(sp.Child("capacity"), ""))
	}
	if _, ok := pv.Spec.Capacity[corev1.ResourceStorage]; !ok || len(pv.Spec.Capacity) > 1 {
		errs = append(errs, field.NotSupported(sp.Child("capacity"), pv.Spec.Capacity, []corev1.ResourceName{corev1.ResourceStorage}))
	}
	for _, name := range sortedResourceNames(pv.Spec.Capacity) {
		p := sp.Child("capacity").Key(string(name))
		q := pv.Spec.Capacity[name]
		errs = append(errs, validateResourceQuantityValue(name, q, p)...)
		errs = append(errs, validatePositiveQuantity(q, p)...)
	}
	if pv.Spec.StorageClassName != "" {
		errs = append(errs, validateDNS1123Subdomain(pv.Spec.StorageClassName, sp.Child("storageClassName"))...)
	}
	errs = append(errs, validateVolumeMode(pv.Spec.VolumeMode, sp.Child("volumeMode"))...)
	switch pv.Spec.PersistentVolumeReclaimPolicy {
	case corev1.PersistentVolumeReclaimDelete, corev1.PersistentVolumeReclaimRecycle, corev1.PersistentVolumeReclaimRetain:
	default:
		errs = append(errs, field.NotSupported(sp.Child("persistentVolumeReclaimPolicy"), pv.Spec.PersistentVolumeReclaimPolicy,
			[]corev1.PersistentVolumeReclaimPolicy{corev1.PersistentVolumeReclaimDelete, corev1.PersistentVolumeReclaimRecycle, corev1.PersistentVolumeReclaimRetain}))
	}
	src := pv.Spec.PersistentVolumeSource
	var set []string
	for _, v := range []struct {
		name string
		set  bool
	}{{"gcePersistentDisk", src.GCEPersistentDisk != nil}, {"awsElasticBlockStore", src.AWSElasticBlockStore != nil},
		{"hostPath", src.HostPath != nil}, {"glusterfs", src.Glusterfs != nil}, {"flocker", src.Flocker != nil},
		{"nfs", src.NFS != nil}, {"rbd", src.RBD != nil}, {"quobyte", src.Quobyte != nil}, {"cephFS", src.CephFS != nil},
		{"iscsi", src.ISCSI != nil}, {"cinder", src.Cinder != nil}, {"fc", src.FC != nil}, {"flexVolume", src.FlexVolume != nil},
		{"azureFile", src.AzureFile != nil}, {"vsphereVolume", src.VsphereVolume != nil},
		{"photonPersistentDisk", src.PhotonPersistentDisk != nil}, {"portworxVolume", src.PortworxVolume != nil},
		{"azureDisk", src.AzureDisk != nil}, {"scaleIO", src.ScaleIO != nil}, {"local", src.Local != nil},
		{"storageos", src.StorageOS != nil}, {"csi", src.CSI != nil}} {
		if v.set {
			set = append(set, v.name)
		}
	}
	for _, name := range set[min(1, len(set)):] {
		errs = append(errs, field.Forbidden(sp.Child(name), "may not specify more than 1 volume type"))
	}
	if len(set) == 0 {
		errs = append(errs, field.Required(sp, "must specify a volume type"))
	}
	if src.HostPath != nil && path.Clean(src.HostPath.Path) == "/" && pv.Spec.PersistentVolumeReclaimPolicy == corev1.PersistentVolumeReclaimRecycle {
		errs = append(errs, field.Forbidden(sp.Child("persistentVolumeReclaimPolicy"), "may not be 'recycle' for a hostPath mount of '/'"))
	}
	if src.HostPath != nil {
		hp := sp.Child("hostPath")
		if src.HostPath.Path == "" {
			errs = append(errs, field.Required(hp.Child("path"), ""))
		} else {
			errs = append(errs, validatePathNoBacksteps(src.HostPath.Path, hp.Child("path"))...)
		}
		if src.HostPath.Type != nil {
			errs = append(errs, validateHostPathType(*src.HostPath.Type, hp.Child("type"))...)
		}
	}
	if src.Local != nil {
		if src.Local.Path == "" {
			errs = append(errs, field.Required(sp.Child("local").Child("path"), ""))
		}
		if pv.Spec.NodeAffinity == nil {
			errs = append(errs, field.Required(sp.Child("nodeAffinity"), "Local volume requires node affinity"))
		}
	}
	if src.CSI != nil {
		if src.CSI.Driver == "" {
			errs = append(errs, field.Required(sp.Child("csi").Child("driver"), ""))
		}
		if src.CSI.VolumeHandle == "" {
			errs = append(errs, field.Required(sp.Child("csi").Child("volumeHandle"), ""))
		}
	}
	if src.NFS != nil {
		if src.NFS.Server == "" {
			errs = append(errs, field.Required(sp.Child("nfs").Child("server"), ""))
		}
		if src.NFS.Path == "" {
			errs = append(errs, field.Required(sp.Child("nfs").Child("path"), ""))
		}
	}
	return errs
}

func persistentVolumeClaimKind() *registry.Kind {
	return &registry.Kind{
		GVK:                 corev1.SchemeGroupVersion.WithKind("PersistentVolumeClaim"),
		Resource:            "persistentvolumeclaims",
		ShortNames:          []string{"pvc"},
		Namespaced:          true,
		New:                 func() runtime.Object { return &corev1.PersistentVolumeClaim{} },
		NewList:             func() runtime.Object { return &corev1.PersistentVolumeClaimList{} },
		Status:              true,
		ReturnDeletedObject: true,
		Default: func(obj runtime.Object) {
			c := obj.(*corev1.PersistentVolumeClaim)
			if c.Status.Phase == "" {
				c.Status.Phase = corev1.ClaimPending
			}
			defaultPVCSpec(&c.Spec)
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			return validatePVCSpec(&obj.(*corev1.PersistentVolumeClaim).Spec, field.NewPath("spec"))
		},
		Fields: func(obj runtime.Object) fields.Set {
			return fields.Set{"name": obj.(*corev1.PersistentVolumeClaim).Name}
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return validatePVCUpdate(obj.(*corev1.PersistentVolumeClaim), old.(*corev1.PersistentVolumeClaim))
		},
		ValidateStatusUpdate: func(obj, _ runtime.Object) field.ErrorList {
			c := obj.(*corev1.PersistentVolumeClaim)
			if c.Status.Phase == "" {
				c.Status.Phase = corev1.ClaimPending
			}
			defaultResourceList(c.Status.Capacity)
			var errs field.ErrorList
			for _, name := range sortedResourceNames(c.Status.Capacity) {
				errs = append(errs, validateResourceQuantityValue(name, c.Status.Capacity[name], field.NewPath("status", "capacity").Key(string(name)))...)
			}
			return errs
		},
		Columns: []metav1.TableColumnDefinition{
			{Name: "Status", Type: "string", Description: "phase represents the current phase of PersistentVolumeClaim."},
			{Name: "Volume", Type: "string", Description: "volumeName is the binding reference to the PersistentVolume backing this claim."},
			{Name: "Capacity", Type: "string", Description: "capacity represents the actual resources of the underlying volume."},
			{Name: "Access Modes", Type: "string", Description: "accessModes contains the actual access modes the volume backing the PVC has."},
			{Name: "StorageClass", Type: "string", Description: "StorageClass of the pvc"},
			{Name: "VolumeAttributesClass", Type: "string", Description: "VolumeAttributesClass of the pvc"},
			registry.AgeColumn,
			{Name: "VolumeMode", Type: "string", Priority: 1, Description: "volumeMode defines what type of volume is required by the claim."},
		},
		Row: func(obj runtime.Object) []interface{} {
			c := obj.(*corev1.PersistentVolumeClaim)
			phase := string(c.Status.Phase)
			if c.DeletionTimestamp != nil {
				phase = "Terminating"
			}
			capacity, modes := "", ""
			if c.Spec.VolumeName != "" {
				modes = accessModesString(c.Status.AccessModes)
				q := c.Status.Capacity[corev1.ResourceStorage]
				capacity = q.String()
			}
			class := ""
			if v, ok := c.Annotations[betaStorageClassAnnotation]; ok {
				class = v
			} else if c.Spec.StorageClassName != nil {
				class = *c.Spec.StorageClassName
			}
			vac := "<unset>"
			if c.Spec.VolumeAttributesClassName != nil {
				vac = *c.Spec.VolumeAttributesClassName
			}
			mode := "<unset>"
			if c.Spec.VolumeMode != nil {
				mode = string(*c.Spec.VolumeMode)
			}
			return []interface{}{phase, c.Spec.VolumeName, capacity, modes, class, vac, age(&c.ObjectMeta), mode}
		},
	}
}

func validatePVCUpdate(c, old *corev1.PersistentVolumeClaim) field.ErrorList {
	var errs field.ErrorList
	newSpec := c.Spec.DeepCopy()
	oldSpec := old.Spec.DeepCopy()
	if old.Spec.VolumeName == "" {
		oldSpec.VolumeName = newSpec.VolumeName
	}
	// A class may be set once on a claim that had none.
	if old.Spec.StorageClassName == nil && old.Annotations[betaStorageClassAnnotation] == "" {
		oldSpec.StorageClassName = newSpec.StorageClassName
	}
	if c.Status.Phase == corev1.ClaimBound && newSpec.Resources.Requests != nil {
		if q, ok := old.Spec.Resources.Requests[corev1.ResourceStorage]; ok {
			newSpec.Resources.Requests[corev1.ResourceStorage] = q
		}
	}
	if !equality.Semantic.DeepEqual(*newSpec, *oldSpec) {
		errs = append(errs, field.Forbidden(field.NewPath("spec"),
			"spec is immutable after creation except resources.requests for bound claims\n"+cmp.Diff(*oldSpec, *newSpec)))
	}
	oldSize := old.Spec.Resources.Requests[corev1.ResourceStorage]
	newSize := c.Spec.Resources.Requests[corev1.ResourceStorage]
	if newSize.Cmp(oldSize) < 0 {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "resources", "requests", "storage"), "field can not be less than previous value"))
	}
	errs = append(errs, apivalidation.ValidateImmutableField(c.Spec.VolumeMode, old.Spec.VolumeMode, field.NewPath("volumeMode"))...)
	return errs
}
