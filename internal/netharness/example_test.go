package netharness_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/bosun-k8s/bosun/internal/netharness"
)

// Run a command inside a fresh harness namespace: its only way out is the
// blackhole route.
func Example() {
	ns, err := netharness.Create("")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ns.Close()
	out, err := ns.Output(context.Background(), "ip", "route", "show", "default")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(strings.Fields(out)[:5])
	// Output: [default via 192.0.2.2 dev bh0]
}
