package core

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
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

var supportedAccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadOnlyMany, corev1.ReadWriteMany, corev1.ReadWriteOnce, corev1.ReadWriteOncePod}

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
			errs = append(errs, field.NotSupported(p, m, supportedAccessModes))
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
	return errs
}
