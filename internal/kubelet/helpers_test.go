package kubelet

import (
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/clock"
)

func intOrStr(i int) intstr.IntOrString { return intstr.FromInt(i) }

// fakeNow is a clock whose time the test sets.
type fakeNow struct{ t time.Time }

func (f *fakeNow) Now() time.Time                  { return f.t }
func (f *fakeNow) Since(t time.Time) time.Duration { return f.t.Sub(t) }
func (f *fakeNow) After(d time.Duration) <-chan time.Time {
	return time.After(d)
}
func (f *fakeNow) NewTimer(d time.Duration) clock.Timer { return clock.RealClock{}.NewTimer(d) }
func (f *fakeNow) Sleep(d time.Duration)                { time.Sleep(d) }
func (f *fakeNow) Tick(d time.Duration) <-chan time.Time {
	return time.Tick(d)
}
