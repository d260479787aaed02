package groups

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/bosun-k8s/bosun/internal/registry"
)

const (
	maxProvisionerParameterSize = 256 * (1 << 10)
	maxProvisionerParameterLen  = 512
	maxCSINodeIDLength          = 192
)

func storageKinds() []*registry.Kind {
	return []*registry.Kind{storageClassKind(), csiDriverKind(), csiNodeKind(), volumeAttachmentKind(), csiStorageCapacityKind()}
}

var storageGV = storagev1.SchemeGroupVersion

// --- storageclasses ----------------------------------------------------------------------

func storageClassKind() *registry.Kind {
	return &registry.Kind{
		GVK:        storageGV.WithKind("StorageClass"),
		Resource:   "storageclasses",
		ShortNames: []string{"sc"},
		New:        func() runtime.Object { return &storagev1.StorageClass{} },
		NewList:    func() runtime.Object { return &storagev1.StorageClassList{} },
		Default: func(obj runtime.Object) {
			c := obj.(*storagev1.StorageClass)
			if c.ReclaimPolicy == nil {
				c.ReclaimPolicy = ptrTo(corev1.PersistentVolumeReclaimDelete)
			}
			if c.VolumeBindingMode == nil {
				c.VolumeBindingMode = ptrTo(storagev1.VolumeBindingImmediate)
			}
		},
		Validate: func(obj runtime.Object) field.ErrorList { return validateStorageClass(obj.(*storagev1.StorageClass)) },
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			c, o := obj.(*storagev1.StorageClass), old.(*storagev1.StorageClass)
			var errs field.ErrorList
			if !apiequality.Semantic.DeepEqual(c.Parameters, o.Parameters) {
				errs = append(errs, field.Forbidden(field.NewPath("parameters"), "updates to parameters are forbidden."))
			}
			if c.Provisioner != o.Provisioner {
				errs = append(errs, field.Forbidden(field.NewPath("provisioner"), "updates to provisioner are forbidden."))
			}
			if deref(c.ReclaimPolicy, "") != deref(o.ReclaimPolicy, "") {
				errs = append(errs, field.Forbidden(field.NewPath("reclaimPolicy"), "updates to reclaimPolicy are forbidden."))
			}
			return append(errs, immutable(c.VolumeBindingMode, o.VolumeBindingMode, field.NewPath("volumeBindingMode"))...)
		},
		Columns: []metav1.TableColumnDefinition{
			col("Provisioner", "string", storagev1.StorageClass{}.SwaggerDoc()["provisioner"]),
			col("ReclaimPolicy", "string", storagev1.StorageClass{}.SwaggerDoc()["reclaimPolicy"]),
			col("VolumeBindingMode", "string", storagev1.StorageClass{}.SwaggerDoc()["volumeBindingMode"]),
			col("AllowVolumeExpansion", "string", storagev1.StorageClass{}.SwaggerDoc()["allowVolumeExpansion"]),
			registry.AgeColumn,
		},
		Row: func(obj runtime.Object) []interface{} {
			c := obj.(*storagev1.StorageClass)
			return []interface{}{
				c.Provisioner,
				string(deref(c.ReclaimPolicy, corev1.PersistentVolumeReclaimDelete)),
				string(deref(c.VolumeBindingMode, storagev1.VolumeBindingImmediate)),
				deref(c.AllowVolumeExpansion, false),
				age(&c.ObjectMeta),
			}
		},
	}
}

func validateStorageClass(c *storagev1.StorageClass) field.ErrorList {
	var errs field.ErrorList
	pp := field.NewPath("provisioner")
	if c.Provisioner == "" {
		errs = append(errs, field.Required(pp, c.Provisioner))
	} else {
		for _, msg := range validation.IsQualifiedName(strings.ToLower(c.Provisioner)) {
			errs = append(errs, field.Invalid(pp, c.Provisioner, msg))
		}
	}
	errs = append(errs, validateProvisionerParameters(c.Parameters, field.NewPath("parameters"))...)
	if rp := c.ReclaimPolicy; rp != nil && *rp != "" && *rp != corev1.PersistentVolumeReclaimDelete && *rp != corev1.PersistentVolumeReclaimRetain {
		errs = append(errs, field.NotSupported(field.NewPath("reclaimPolicy"), rp, []string{"Delete", "Retain"}))
	}
	bp := field.NewPath("volumeBindingMode")
	if m := c.VolumeBindingMode; m == nil {
		errs = append(errs, field.Required(bp, ""))
	} else if *m != storagev1.VolumeBindingImmediate && *m != storagev1.VolumeBindingWaitForFirstConsumer {
		errs = append(errs, field.NotSupported(bp, m, []string{"Immediate", "WaitForFirstConsumer"}))
	}
	tp := field.NewPath("allowedTopologies")
	for i, term := range c.AllowedTopologies {
		ip := tp.Index(i)
		if len(term.MatchLabelExpressions) == 0 {
			errs = append(errs, field.Required(ip.Child("matchLabelExpressions"), "must contain at least one requirement"))
		}
		keys := sets.New[string]()
		for k, req := range term.MatchLabelExpressions {
			kp := ip.Child("matchLabelExpressions").Index(k)
			if keys.Has(req.Key) {
				errs = append(errs, field.Duplicate(kp.Child("key"), req.Key))
			}
			keys.Insert(req.Key)
			if len(req.Values) == 0 {
				errs = append(errs, field.Required(kp.Child("values"), "must specify as least one value"))
			}
		}
	}
	return errs
}

func validateProvisionerParameters(params map[string]string, p *field.Path) field.ErrorList {
	if len(params) > maxProvisionerParameterLen {
		return field.ErrorList{field.TooLong(p, "Provisioner Parameters exceeded max allowed", maxProvisionerParameterLen)}
	}
	var errs field.ErrorList
	var size int
	for k, v := range params {
		if k == "" {
			errs = append(errs, field.Invalid(p, k, "field can not be empty."))
		}
		size += len(k) + len(v)
	}
	if size > maxProvisionerParameterSize {
		errs = append(errs, field.TooLong(p, "", maxProvisionerParameterSize))
	}
	return errs
}

// --- csidrivers --------------------------------------------------------------------------

func csiDriverKind() *registry.Kind {
	return &registry.Kind{
		GVK:            storageGV.WithKind("CSIDriver"),
		Resource:       "csidrivers",
		NameValidation: validateCSIDriverName,
		New:            func() runtime.Object { return &storagev1.CSIDriver{} },
		NewList:        func() runtime.Object { return &storagev1.CSIDriverList{} },
		Generation:     true,
		Default: func(obj runtime.Object) {
			s := &obj.(*storagev1.CSIDriver).Spec
			if s.AttachRequired == nil {
				s.AttachRequired = ptrTo(true)
			}
			if s.PodInfoOnMount == nil {
				s.PodInfoOnMount = ptrTo(false)
			}
			if s.StorageCapacity == nil {
				s.StorageCapacity = ptrTo(false)
			}
			if s.FSGroupPolicy == nil {
				s.FSGroupPolicy = ptrTo(storagev1.ReadWriteOnceWithFSTypeFSGroupPolicy)
			}
			if len(s.VolumeLifecycleModes) == 0 {
				s.VolumeLifecycleModes = []storagev1.VolumeLifecycleMode{storagev1.VolumeLifecyclePersistent}
			}
			if s.RequiresRepublish == nil {
				s.RequiresRepublish = ptrTo(false)
			}
			if s.SELinuxMount == nil {
				s.SELinuxMount = ptrTo(false)
			}
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			s := &obj.(*storagev1.CSIDriver).Spec
			p := field.NewPath("spec")
			var errs field.ErrorList
			for _, f := range []struct {
				name string
				v    *bool
			}{{"attachRequired", s.AttachRequired}, {"podInfoOnMount", s.PodInfoOnMount}, {"storageCapacity", s.StorageCapacity}, {"requiresRepublish", s.RequiresRepublish}} {
				if f.v == nil {
					errs = append(errs, field.Required(p.Child(f.name), ""))
				}
			}
			if fp := s.FSGroupPolicy; fp != nil && *fp != storagev1.ReadWriteOnceWithFSTypeFSGroupPolicy && *fp != storagev1.FileFSGroupPolicy && *fp != storagev1.NoneFSGroupPolicy {
				errs = append(errs, field.NotSupported(p.Child("fsGroupPolicy"), *fp, []string{"File", "None", "ReadWriteOnceWithFSType"}))
			}
			for i, m := range s.VolumeLifecycleModes {
				if m != storagev1.VolumeLifecyclePersistent && m != storagev1.VolumeLifecycleEphemeral {
					errs = append(errs, field.NotSupported(p.Child("volumeLifecycleModes").Index(i), m, []string{"Ephemeral", "Persistent"}))
				}
			}
			audiences := sets.New[string]()
			for i, t := range s.TokenRequests {
				if audiences.Has(t.Audience) {
					errs = append(errs, field.Duplicate(p.Child("tokenRequests").Index(i).Child("audience"), t.Audience))
				}
				audiences.Insert(t.Audience)
			}
			return errs
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			s, o := &obj.(*storagev1.CSIDriver).Spec, &old.(*storagev1.CSIDriver).Spec
			errs := immutable(s.AttachRequired, o.AttachRequired, field.NewPath("spec", "attachRequired"))
			return append(errs, immutable(s.VolumeLifecycleModes, o.VolumeLifecycleModes, field.NewPath("spec", "volumeLifecycleModes"))...)
		},
		Columns: []metav1.TableColumnDefinition{
			col("AttachRequired", "boolean", storagev1.CSIDriverSpec{}.SwaggerDoc()["attachRequired"]),
			col("PodInfoOnMount", "boolean", storagev1.CSIDriverSpec{}.SwaggerDoc()["podInfoOnMount"]),
			col("StorageCapacity", "boolean", storagev1.CSIDriverSpec{}.SwaggerDoc()["storageCapacity"]),
			col("TokenRequests", "string", storagev1.CSIDriverSpec{}.SwaggerDoc()["tokenRequests"]),
			col("RequiresRepublish", "boolean", storagev1.CSIDriverSpec{}.SwaggerDoc()["requiresRepublish"]),
			col("Modes", "string", storagev1.CSIDriverSpec{}.SwaggerDoc()["volumeLifecycleModes"]),
			registry.AgeColumn,
		},
		Row: func(obj runtime.Object) []interface{} {
			d := obj.(*storagev1.CSIDriver)
			s := &d.Spec
			tokens := "<unset>"
			if s.TokenRequests != nil {
				var a []string
				for _, t := range s.TokenRequests {
					a = append(a, t.Audience)
				}
				tokens = strings.Join(a, ",")
			}
			var modes []string
			for _, m := range s.VolumeLifecycleModes {
				modes = append(modes, string(m))
			}
			m := strings.Join(modes, ",")
			if m == "" {
				m = "<none>"
			}
			return []interface{}{deref(s.AttachRequired, true), deref(s.PodInfoOnMount, false), deref(s.StorageCapacity, false),
				tokens, deref(s.RequiresRepublish, false), m, age(&d.ObjectMeta)}
		},
	}
}

// validateCSIDriverName is upstream's rule for driver names: at most 63 characters, a DNS
// subdomain once lower-cased.
func validateCSIDriverName(name string, prefix bool) []string {
	var msgs []string
	if len(name) > 63 {
		msgs = append(msgs, validation.MaxLenError(63))
	}
	return append(msgs, validation.IsDNS1123Subdomain(strings.ToLower(name))...)
}

// --- csinodes ----------------------------------------------------------------------------

func csiNodeKind() *registry.Kind {
	return &registry.Kind{
		GVK:      storageGV.WithKind("CSINode"),
		Resource: "csinodes",
		New:      func() runtime.Object { return &storagev1.CSINode{} },
		NewList:  func() runtime.Object { return &storagev1.CSINodeList{} },
		Validate: func(obj runtime.Object) field.ErrorList {
			p := field.NewPath("spec", "drivers")
			var errs field.ErrorList
			names := sets.New[string]()
			for i, d := range obj.(*storagev1.CSINode).Spec.Drivers {
				dp := p.Index(i)
				if d.Name == "" {
					errs = append(errs, field.Required(dp.Child("name"), ""))
				} else if names.Has(d.Name) {
					errs = append(errs, field.Duplicate(dp.Child("name"), d.Name))
				}
				names.Insert(d.Name)
				if d.NodeID == "" {
					errs = append(errs, field.Required(dp.Child("nodeID"), ""))
				} else if len(d.NodeID) > maxCSINodeIDLength {
					errs = append(errs, field.Invalid(dp.Child("nodeID"), d.NodeID, "must be 192 characters or less"))
				}
			}
			return errs
		},
		Columns: []metav1.TableColumnDefinition{
			col("Drivers", "integer", "Drivers indicates the number of CSI drivers registered on the node"),
			registry.AgeColumn,
		},
		Row: func(obj runtime.Object) []interface{} {
			n := obj.(*storagev1.CSINode)
			return []interface{}{int64(len(n.Spec.Drivers)), age(&n.ObjectMeta)}
		},
	}
}

// --- volumeattachments -------------------------------------------------------------------

func volumeAttachmentKind() *registry.Kind {
	return &registry.Kind{
		GVK:      storageGV.WithKind("VolumeAttachment"),
		Resource: "volumeattachments",
		New:      func() runtime.Object { return &storagev1.VolumeAttachment{} },
		NewList:  func() runtime.Object { return &storagev1.VolumeAttachmentList{} },
		Status:   true,
		Validate: func(obj runtime.Object) field.ErrorList {
			s := &obj.(*storagev1.VolumeAttachment).Spec
			p := field.NewPath("spec")
			var errs field.ErrorList
			if s.Attacher == "" {
				errs = append(errs, field.Required(p.Child("attacher"), s.Attacher))
			}
			sp := p.Child("source")
			switch src := s.Source; {
			case src.InlineVolumeSpec == nil && src.PersistentVolumeName == nil:
				errs = append(errs, field.Required(sp, "must specify exactly one of inlineVolumeSpec and persistentVolumeName"))
			case src.InlineVolumeSpec != nil && src.PersistentVolumeName != nil:
				errs = append(errs, field.Forbidden(sp, "must specify exactly one of inlineVolumeSpec and persistentVolumeName"))
			case src.PersistentVolumeName != nil && *src.PersistentVolumeName == "":
				errs = append(errs, field.Required(sp.Child("persistentVolumeName"), "must specify non empty persistentVolumeName"))
			}
			for _, msg := range apimachineryvalidation.NameIsDNSSubdomain(s.NodeName, false) {
				errs = append(errs, field.Invalid(p.Child("nodeName"), s.NodeName, msg))
			}
			return errs
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			n, o := obj.(*storagev1.VolumeAttachment), old.(*storagev1.VolumeAttachment)
			if !apiequality.Semantic.DeepEqual(n.Spec, o.Spec) {
				return field.ErrorList{field.Invalid(field.NewPath("spec"), n.Spec, "field is immutable")}
			}
			return nil
		},
		Columns: []metav1.TableColumnDefinition{
			{Name: "Attacher", Type: "string", Format: "name", Description: storagev1.VolumeAttachmentSpec{}.SwaggerDoc()["attacher"]},
			col("PV", "string", storagev1.VolumeAttachmentSource{}.SwaggerDoc()["persistentVolumeName"]),
			col("Node", "string", storagev1.VolumeAttachmentSpec{}.SwaggerDoc()["nodeName"]),
			col("Attached", "boolean", storagev1.VolumeAttachmentStatus{}.SwaggerDoc()["attached"]),
			registry.AgeColumn,
		},
		Row: func(obj runtime.Object) []interface{} {
			v := obj.(*storagev1.VolumeAttachment)
			return []interface{}{v.Spec.Attacher, deref(v.Spec.Source.PersistentVolumeName, ""), v.Spec.NodeName, v.Status.Attached, age(&v.ObjectMeta)}
		},
	}
}

// --- csistoragecapacities ----------------------------------------------------------------

func csiStorageCapacityKind() *registry.Kind {
	return &registry.Kind{
		GVK:        storageGV.WithKind("CSIStorageCapacity"),
		Resource:   "csistoragecapacities",
		Namespaced: true,
		New:        func() runtime.Object { return &storagev1.CSIStorageCapacity{} },
		NewList:    func() runtime.Object { return &storagev1.CSIStorageCapacityList{} },
		Validate: func(obj runtime.Object) field.ErrorList {
			c := obj.(*storagev1.CSIStorageCapacity)
			var errs field.ErrorList
			sp := field.NewPath("storageClassName")
			if c.StorageClassName == "" {
				errs = append(errs, field.Required(sp, ""))
			}
			for _, msg := range apimachineryvalidation.NameIsDNSSubdomain(c.StorageClassName, false) {
				errs = append(errs, field.Invalid(sp, c.StorageClassName, msg))
			}
			errs = append(errs, metav1validation.ValidateLabelSelector(c.NodeTopology, metav1validation.LabelSelectorValidationOptions{}, field.NewPath("nodeTopology"))...)
			for _, q := range []struct {
				name string
				v    *resource.Quantity
			}{{"capacity", c.Capacity}, {"maximumVolumeSize", c.MaximumVolumeSize}} {
				if q.v != nil && q.v.Sign() < 0 {
					errs = append(errs, field.Invalid(field.NewPath(q.name), q.v.String(), "must be greater than or equal to 0"))
				}
			}
			return errs
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			c, o := obj.(*storagev1.CSIStorageCapacity), old.(*storagev1.CSIStorageCapacity)
			var errs field.ErrorList
			// the inputs of the driver's GetCapacity call are fixed
			if !apiequality.Semantic.DeepEqual(c.NodeTopology, o.NodeTopology) {
				errs = append(errs, field.Invalid(field.NewPath("nodeTopology"), c.NodeTopology, "field is immutable"))
			}
			if c.StorageClassName != o.StorageClassName {
				errs = append(errs, field.Invalid(field.NewPath("storageClassName"), c.StorageClassName, "field is immutable"))
			}
			return errs
		},
		// upstream's printer has no AGE column for capacities
		Columns: []metav1.TableColumnDefinition{
			col("StorageClassName", "string", storagev1.CSIStorageCapacity{}.SwaggerDoc()["storageClassName"]),
			col("Capacity", "string", storagev1.CSIStorageCapacity{}.SwaggerDoc()["capacity"]),
		},
		Row: func(obj runtime.Object) []interface{} {
			c := obj.(*storagev1.CSIStorageCapacity)
			capacity := "<unset>"
			if c.Capacity != nil {
				capacity = c.Capacity.String()
			}
			return []interface{}{c.StorageClassName, capacity}
		},
	}
}
