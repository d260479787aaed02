package netharness

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/bosun-k8s/bosun/internal/proxy/nftx"
)

// BlackholeMAC is the link address WatchLeaks gives the blackhole gateway.
const BlackholeMAC = "02:00:00:00:00:02"

const leakTable, leakCounter = "bosun-leaks", "leaked"

// WatchLeaks makes leaks countable: the blackhole gateway gets a permanent
// neighbour entry, so a packet routed off the machine is really sent on
// the veth (instead of waiting for an ARP answer) and an ingress counter on
// the peer end counts every IPv4 packet that arrives there. Leaks then
// returns how many packets tried to leave. A leaked TCP connection now
// hangs until its SYN retries run out rather than failing after the ARP
// timeout.
func (n *NS) WatchLeaks() error {
	if _, err := n.Output(context.Background(), "ip", "neigh", "replace", Blackhole.String(), "lladdr", BlackholeMAC, "dev", LinkName, "nud", "permanent"); err != nil {
		return err
	}
	c, done, err := nftx.Conn(n.Path)
	if err != nil {
		return fmt.Errorf("netharness: %w", err)
	}
	defer done()
	t := &nftables.Table{Name: leakTable, Family: nftables.TableFamilyNetdev}
	c.AddTable(t)
	c.DelTable(t)
	c.AddTable(t)
	c.AddObj(&nftables.CounterObj{Table: t, Name: leakCounter})
	ch := c.AddChain(&nftables.Chain{Name: "in", Table: t, Type: nftables.ChainTypeFilter, Hooknum: nftables.ChainHookIngress, Priority: nftables.ChainPriorityFilter, Device: PeerName})
	c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: []expr.Any{
		&expr.Meta{Key: expr.MetaKeyPROTOCOL, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.BigEndian.AppendUint16(nil, unix.ETH_P_IP)},
		&expr.Objref{Type: int(nftables.ObjTypeCounter), Name: leakCounter},
	}})
	if err := c.Flush(); err != nil {
		return fmt.Errorf("netharness: leak counter: %w", err)
	}
	return nil
}

// Leaks returns how many IPv4 packets reached the blackhole since
// WatchLeaks.
func (n *NS) Leaks() (uint64, error) {
	c, done, err := nftx.Conn(n.Path)
	if err != nil {
		return 0, fmt.Errorf("netharness: %w", err)
	}
	defer done()
	o, err := c.GetObject(&nftables.CounterObj{Table: &nftables.Table{Name: leakTable, Family: nftables.TableFamilyNetdev}, Name: leakCounter})
	if err != nil {
		return 0, fmt.Errorf("netharness: leak counter: %w", err)
	}
	switch o := o.(type) {
	case *nftables.CounterObj:
		return o.Packets, nil
	case *nftables.NamedObj:
		if ctr, ok := o.Obj.(*expr.Counter); ok {
			return ctr.Packets, nil
		}
	}
	return 0, fmt.Errorf("netharness: leak counter: unexpected %T", o)
}
