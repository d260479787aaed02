package kubelet

import "k8s.io/apimachinery/pkg/util/intstr"

func intOrStr(i int) intstr.IntOrString { return intstr.FromInt(i) }
