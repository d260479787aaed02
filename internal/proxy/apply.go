package proxy

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"

	"github.com/bosun-k8s/bosun/internal/proxy/nftx"
)

// programmer writes states into the kernel. It remembers the last state it
// wrote so that the next write sends only the difference, all in one
// netlink transaction.
type programmer struct {
	conn    func() (*nftables.Conn, func(), error)
	nodeIPs []netip.Addr // nil: node ports on every local address
	applied *state       // nil: the next write rebuilds the table
}

func (p *programmer) table() *nftables.Table {
	return &nftables.Table{Name: TableName, Family: nftables.TableFamilyIPv4}
}

func (p *programmer) chain(name string) *nftables.Chain {
	return &nftables.Chain{Name: name, Table: p.table()}
}

var (
	serviceIPsType = nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeInetProto, nftables.TypeInetService)
	nodePortsType  = nftables.MustConcatSetType(nftables.TypeInetProto, nftables.TypeInetService)
)

func (p *programmer) serviceIPsMap() *nftables.Set {
	return &nftables.Set{Table: p.table(), Name: mapServiceIPs, IsMap: true, Concatenation: true, KeyType: serviceIPsType, DataType: nftables.TypeVerdict}
}

func (p *programmer) nodePortsMap() *nftables.Set {
	return &nftables.Set{Table: p.table(), Name: mapServiceNodePort, IsMap: true, Concatenation: true, KeyType: nodePortsType, DataType: nftables.TypeVerdict}
}

func (p *programmer) noEndpointsMap() *nftables.Set {
	return &nftables.Set{Table: p.table(), Name: mapNoEndpoints, IsMap: true, Concatenation: true, KeyType: serviceIPsType, DataType: nftables.TypeVerdict}
}

func (p *programmer) noEndpointPortsMap() *nftables.Set {
	return &nftables.Set{Table: p.table(), Name: mapNoEndpointPorts, IsMap: true, Concatenation: true, KeyType: nodePortsType, DataType: nftables.TypeVerdict}
}

// verdictMap pairs a kernel map with its elements in a state.
type verdictMap struct {
	set   *nftables.Set
	elems func(*state) map[string]mapElem
}

func (p *programmer) verdictMaps() []verdictMap {
	return []verdictMap{
		{p.serviceIPsMap(), func(s *state) map[string]mapElem { return s.ServiceIPs }},
		{p.nodePortsMap(), func(s *state) map[string]mapElem { return s.NodePorts }},
		{p.noEndpointsMap(), func(s *state) map[string]mapElem { return s.NoEndpoints }},
		{p.noEndpointPortsMap(), func(s *state) map[string]mapElem { return s.NoEndpointPorts }},
	}
}

func (p *programmer) affinitySet(name string, timeout time.Duration) *nftables.Set {
	return &nftables.Set{Table: p.table(), Name: name, KeyType: nftables.TypeIPAddr, HasTimeout: true, Dynamic: true, Timeout: timeout}
}

func elems(m map[string]mapElem, keys []string) []nftables.SetElement {
	out := make([]nftables.SetElement, 0, len(keys))
	for _, k := range keys {
		e := m[k]
		out = append(out, nftables.SetElement{Key: e.Key, VerdictData: &expr.Verdict{Kind: expr.VerdictGoto, Chain: e.Chain}})
	}
	return out
}

// unchanged reports whether st needs no write after old.
func unchanged(old, st *state) bool {
	if old == nil || len(old.Chains) != len(st.Chains) || len(old.Affinity) != len(st.Affinity) {
		return false
	}
	for name, rules := range st.Chains {
		if prev, ok := old.Chains[name]; !ok || !sameRules(prev, rules) {
			return false
		}
	}
	for name, timeout := range st.Affinity {
		if prev, ok := old.Affinity[name]; !ok || prev != timeout {
			return false
		}
	}
	for _, m := range []func(*state) map[string]mapElem{
		func(s *state) map[string]mapElem { return s.ServiceIPs },
		func(s *state) map[string]mapElem { return s.NodePorts },
		func(s *state) map[string]mapElem { return s.NoEndpoints },
		func(s *state) map[string]mapElem { return s.NoEndpointPorts },
	} {
		if del, add := mapDiff(m(old), m(st)); len(del)+len(add) > 0 {
			return false
		}
	}
	return true
}

// write brings the kernel to st and reports whether it had to write
// anything. On failure the next write rebuilds.
func (p *programmer) write(st *state) (bool, error) {
	if unchanged(p.applied, st) {
		return false, nil
	}
	c, done, err := p.conn()
	if err != nil {
		return false, err
	}
	defer done()
	b := &nftx.Batch{Conn: c, Table: p.table()}
	if p.applied == nil {
		err = p.full(b, st)
	} else {
		err = p.incremental(b, st)
	}
	if err == nil {
		err = c.Flush()
	}
	if err != nil {
		p.applied = nil
		return false, fmt.Errorf("proxy: program nftables: %w", err)
	}
	p.applied = st
	return true, nil
}

func (p *programmer) addRules(b *nftx.Batch, chain string, rules []nftx.Rule) error {
	ch := p.chain(chain)
	for _, r := range rules {
		if err := b.AddRule(ch, r); err != nil {
			return err
		}
	}
	return nil
}

// full replaces the table in one transaction (add, delete, add: works
// whether or not a previous table exists), then fills it.
func (p *programmer) full(b *nftx.Batch, st *state) error {
	c := b.Conn
	t := p.table()
	c.AddTable(t)
	c.DelTable(t)
	c.AddTable(t)
	accept := nftables.ChainPolicyAccept
	base := []*nftables.Chain{
		{Name: "nat-prerouting", Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityNATDest, Type: nftables.ChainTypeNAT},
		{Name: "nat-output", Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityNATDest, Type: nftables.ChainTypeNAT},
		{Name: "nat-postrouting", Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource, Type: nftables.ChainTypeNAT},
		{Name: "filter-input", Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter, Type: nftables.ChainTypeFilter},
		{Name: "filter-forward", Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Type: nftables.ChainTypeFilter},
		{Name: "filter-output", Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityFilter, Type: nftables.ChainTypeFilter},
	}
	useSet := p.nodeIPs != nil
	if useSet {
		ips := []nftables.SetElement{{Key: loopback.AsSlice()}}
		for _, a := range p.nodeIPs {
			if a.Is4() && a != loopback {
				ips = append(ips, nftables.SetElement{Key: a.AsSlice()})
			}
		}
		if err := b.AddSet(&nftables.Set{Table: t, Name: setNodePortIPs, KeyType: nftables.TypeIPAddr}, ips); err != nil {
			return err
		}
	}
	maps_ := p.verdictMaps()
	for _, m := range maps_ {
		if err := b.AddSet(m.set, nil); err != nil {
			return err
		}
	}
	for name, timeout := range st.Affinity {
		if err := b.AddSet(p.affinitySet(name, timeout), nil); err != nil {
			return err
		}
	}
	fixed := fixedChains(useSet)
	for name := range fixed {
		c.AddChain(p.chain(name))
	}
	for name := range st.Chains {
		c.AddChain(p.chain(name))
	}
	for name, rules := range fixed {
		if err := p.addRules(b, name, rules); err != nil {
			return err
		}
	}
	for _, name := range slices.Sorted(maps.Keys(st.Chains)) {
		if err := p.addRules(b, name, st.Chains[name]); err != nil {
			return err
		}
	}
	// Map elements refer to chains: they come after them.
	for _, m := range maps_ {
		if es := m.elems(st); len(es) > 0 {
			if err := c.SetAddElements(m.set, elems(es, slices.Sorted(maps.Keys(es)))); err != nil {
				return err
			}
		}
	}
	for _, bc := range base {
		bc.Table, bc.Policy = t, &accept
		c.AddChain(bc)
	}
	for _, r := range []struct {
		chain string
		rule  nftx.Rule
	}{
		{"nat-prerouting", nftx.Rule{nftx.Jump{Chain: chainServices}}},
		{"nat-output", nftx.Rule{nftx.Jump{Chain: chainServices}}},
		{"nat-postrouting", nftx.Rule{nftx.Jump{Chain: chainMasquerading}}},
		{"filter-input", localnetGuard()},
		{"filter-input", nftx.Rule{nftx.ServiceKey{Map: mapNoEndpoints}}},
		{"filter-input", nftx.Rule{nftx.FibDaddrLocal{}, nftx.ServiceKey{Map: mapNoEndpointPorts, PortOnly: true}}},
		// As kube-proxy: a packet conntrack finds invalid (say, out of
		// the TCP window) would skip the NAT of its connection and reach
		// a pod un-translated, which answers with a reset.
		{"filter-forward", nftx.Rule{nftx.CtStateInvalid{}, nftx.Drop{}}},
		{"filter-forward", nftx.Rule{nftx.ServiceKey{Map: mapNoEndpoints}}},
		{"filter-output", nftx.Rule{nftx.ServiceKey{Map: mapNoEndpoints}}},
		{"filter-output", nftx.Rule{nftx.FibDaddrLocal{}, nftx.ServiceKey{Map: mapNoEndpointPorts, PortOnly: true}}},
	} {
		if err := p.addRules(b, r.chain, []nftx.Rule{r.rule}); err != nil {
			return err
		}
	}
	return nil
}

func sameRules(a, b []nftx.Rule) bool {
	return slices.EqualFunc(a, b, nftx.Equal)
}

// mapDiff returns the keys to delete and to add to go from old to new.
func mapDiff(old, new map[string]mapElem) (del, add []string) {
	for k, e := range old {
		if n, ok := new[k]; !ok || n.Chain != e.Chain {
			del = append(del, k)
		}
	}
	for k, e := range new {
		if o, ok := old[k]; !ok || o.Chain != e.Chain {
			add = append(add, k)
		}
	}
	slices.Sort(del)
	slices.Sort(add)
	return del, add
}

// incremental queues the changes from p.applied to st: new affinity sets and
// chains first, then rewritten chains, map elements, and last the chains and
// sets nothing refers to any more.
func (p *programmer) incremental(b *nftx.Batch, st *state) error {
	c := b.Conn
	old := p.applied
	for name, timeout := range st.Affinity {
		if _, ok := old.Affinity[name]; !ok {
			if err := b.AddSet(p.affinitySet(name, timeout), nil); err != nil {
				return err
			}
		}
	}
	for name := range st.Chains {
		if _, ok := old.Chains[name]; !ok {
			c.AddChain(p.chain(name))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(st.Chains)) {
		rules := st.Chains[name]
		prev, existed := old.Chains[name]
		if existed && sameRules(prev, rules) {
			continue
		}
		if existed {
			c.FlushChain(p.chain(name))
		}
		if err := p.addRules(b, name, rules); err != nil {
			return err
		}
	}
	for _, m := range p.verdictMaps() {
		o, n := m.elems(old), m.elems(st)
		del, add := mapDiff(o, n)
		if len(del) > 0 {
			if err := c.SetDeleteElements(m.set, elems(o, del)); err != nil {
				return err
			}
		}
		if len(add) > 0 {
			if err := c.SetAddElements(m.set, elems(n, add)); err != nil {
				return err
			}
		}
	}
	var gone []string
	for name := range old.Chains {
		if _, ok := st.Chains[name]; !ok {
			gone = append(gone, name)
			c.FlushChain(p.chain(name))
		}
	}
	for _, name := range gone {
		c.DelChain(p.chain(name))
	}
	for name, timeout := range old.Affinity {
		if _, ok := st.Affinity[name]; !ok {
			c.DelSet(p.affinitySet(name, timeout))
		}
	}
	return nil
}

// remove deletes the table.
func (p *programmer) remove() error {
	c, done, err := p.conn()
	if err != nil {
		return err
	}
	defer done()
	t := p.table()
	c.AddTable(t)
	c.DelTable(t)
	p.applied = nil
	if err := c.Flush(); err != nil {
		return fmt.Errorf("proxy: remove table: %w", err)
	}
	return nil
}
