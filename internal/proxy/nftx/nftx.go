// Package nftx is a small typed layer over github.com/google/nftables: a rule
// is a list of statements, and each statement knows both the netlink
// expressions it compiles to and the nft(8) text it stands for. The text is
// what unit tests assert and what logs show; the expressions are what the
// kernel receives. Only the statements bosun's fence and service proxy need
// exist here.
//
// Every statement loads what it matches into register 1 (32-bit registers 9
// and 10 for concatenations, register 2 for a NAT port) and compares it at
// once, so statements compose in any order.
//
// A Batch queues rules and sets for one transaction and numbers its sets
// itself; Conn opens a connection (in a given network namespace) whose
// buffers hold large transactions.
package nftx

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Stmt is one nft statement: a match or an action.
type Stmt interface {
	// Exprs returns the expressions of the statement. b collects the
	// anonymous sets the statement needs (nil when the statement needs none).
	Exprs(b *Builder) []expr.Any
	String() string
}

// Rule is an ordered list of statements.
type Rule []Stmt

// String renders the rule as nft(8) would print it (close enough to read).
func (r Rule) String() string {
	parts := make([]string, len(r))
	for i, s := range r {
		parts[i] = s.String()
	}
	return strings.Join(parts, " ")
}

// Batch queues rules and sets for one netlink transaction on Conn. It
// numbers the sets it adds itself, per batch: google/nftables would
// otherwise draw the IDs from a package counter that concurrent batches
// (the fence's and the proxy's, in one process) race on.
type Batch struct {
	Conn  *nftables.Conn
	Table *nftables.Table
	ids   uint32
}

// AddSet queues a set (an ID is assigned when it has none; an anonymous
// set is named as the kernel expects).
func (b *Batch) AddSet(s *nftables.Set, elems []nftables.SetElement) error {
	if s.ID == 0 {
		b.ids++
		s.ID = b.ids
		if s.Anonymous {
			s.Name = "__set%d"
			if s.IsMap {
				s.Name = "__map%d"
			}
		}
	}
	return b.Conn.AddSet(s, elems)
}

// AddRule compiles r and queues it, with the anonymous sets it needs, on
// chain.
func (b *Batch) AddRule(chain *nftables.Chain, r Rule) error {
	bld := &Builder{batch: b}
	exprs := r.Exprs(bld)
	if bld.Err != nil {
		return fmt.Errorf("anonymous set for %q: %w", r.String(), bld.Err)
	}
	b.Conn.AddRule(&nftables.Rule{Table: b.Table, Chain: chain, Exprs: exprs})
	return nil
}

// Builder carries what compiling a rule needs: the batch on which
// anonymous sets are queued ahead of the rule using them. A zero Builder
// only compiles (tests), numbering anonymous sets locally.
type Builder struct {
	Err   error
	batch *Batch
	n     uint32
}

func (b *Builder) table() *nftables.Table {
	if b.batch == nil {
		return nil
	}
	return b.batch.Table
}

func (b *Builder) addAnon(set *nftables.Set, elems []nftables.SetElement) {
	if b.batch == nil {
		b.n++
		set.ID, set.Name = b.n, "__map%d"
		return
	}
	if err := b.batch.AddSet(set, elems); err != nil && b.Err == nil {
		b.Err = err
	}
}

// Exprs compiles the rule.
func (r Rule) Exprs(b *Builder) []expr.Any {
	var out []expr.Any
	for _, s := range r {
		out = append(out, s.Exprs(b)...)
	}
	return out
}

// Field is an address field of the IP header.
type Field int

// The address fields.
const (
	Saddr Field = iota
	Daddr
)

func (f Field) String() string {
	if f == Saddr {
		return "saddr"
	}
	return "daddr"
}

func loadAddr(f Field, is6 bool, reg uint32) *expr.Payload {
	off, l := uint32(12), uint32(4)
	if f == Daddr {
		off = 16
	}
	if is6 {
		off, l = 8, 16
		if f == Daddr {
			off = 24
		}
	}
	return &expr.Payload{DestRegister: reg, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: l}
}

func ipName(is6 bool) string {
	if is6 {
		return "ip6"
	}
	return "ip"
}

func cmpOp(neg bool) expr.CmpOp {
	if neg {
		return expr.CmpOpNeq
	}
	return expr.CmpOpEq
}

func negText(neg bool) string {
	if neg {
		return "!= "
	}
	return ""
}

// AddrIn matches (or with Not, fails to match) the address field against a
// prefix; a full-length prefix matches one address.
type AddrIn struct {
	Field  Field
	Prefix netip.Prefix
	Not    bool
}

// Exprs implements Stmt.
func (s AddrIn) Exprs(*Builder) []expr.Any {
	p := s.Prefix.Masked()
	is6 := p.Addr().Is6()
	addr := p.Addr().AsSlice()
	out := []expr.Any{loadAddr(s.Field, is6, 1)}
	if p.Bits() < len(addr)*8 {
		mask := make([]byte, len(addr))
		for i := 0; i < p.Bits(); i++ {
			mask[i/8] |= 0x80 >> (i % 8)
		}
		out = append(out, &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: uint32(len(addr)), Mask: mask, Xor: make([]byte, len(addr))})
	}
	return append(out, &expr.Cmp{Op: cmpOp(s.Not), Register: 1, Data: addr})
}

func (s AddrIn) String() string {
	p := s.Prefix.Masked()
	v := p.String()
	if p.IsSingleIP() {
		v = p.Addr().String()
	}
	return fmt.Sprintf("%s %s %s%s", ipName(p.Addr().Is6()), s.Field, negText(s.Not), v)
}

// AddrInSet matches the address field against a named set.
type AddrInSet struct {
	Field Field
	IPv6  bool
	Set   string
	Not   bool
}

// Exprs implements Stmt.
func (s AddrInSet) Exprs(*Builder) []expr.Any {
	return []expr.Any{loadAddr(s.Field, s.IPv6, 1), &expr.Lookup{SourceRegister: 1, SetName: s.Set, Invert: s.Not}}
}

func (s AddrInSet) String() string {
	return fmt.Sprintf("%s %s %s@%s", ipName(s.IPv6), s.Field, negText(s.Not), s.Set)
}

// NfProto matches the packet's family in an inet table.
type NfProto struct{ IPv6 bool }

// Exprs implements Stmt.
func (s NfProto) Exprs(*Builder) []expr.Any {
	v := byte(unix.NFPROTO_IPV4)
	if s.IPv6 {
		v = unix.NFPROTO_IPV6
	}
	return []expr.Any{&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{v}}}
}

func (s NfProto) String() string {
	if s.IPv6 {
		return "meta nfproto ipv6"
	}
	return "meta nfproto ipv4"
}

// Proto numbers and names.
var protoNames = map[byte]string{unix.IPPROTO_TCP: "tcp", unix.IPPROTO_UDP: "udp", unix.IPPROTO_SCTP: "sctp"}

// ProtoName returns the nft name of an IP protocol number.
func ProtoName(p byte) string {
	if n, ok := protoNames[p]; ok {
		return n
	}
	return fmt.Sprint(p)
}

// L4Proto matches the transport protocol.
type L4Proto struct {
	Proto byte
	Not   bool
}

// Exprs implements Stmt.
func (s L4Proto) Exprs(*Builder) []expr.Any {
	return []expr.Any{&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1}, &expr.Cmp{Op: cmpOp(s.Not), Register: 1, Data: []byte{s.Proto}}}
}

func (s L4Proto) String() string {
	return "meta l4proto " + negText(s.Not) + ProtoName(s.Proto)
}

// Dport matches the transport destination port (tcp, udp and sctp share
// its offset).
type Dport struct{ Port uint16 }

// Exprs implements Stmt.
func (s Dport) Exprs(*Builder) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.BigEndian.AppendUint16(nil, s.Port)},
	}
}

func (s Dport) String() string { return fmt.Sprintf("th dport %d", s.Port) }

// CtStatus bits.
const (
	CtStatusDNAT uint32 = 0x20 // IPS_DST_NAT
)

// CtStatusDNATSet matches connections that were (or, with Not, were not)
// destination-NATed.
type CtStatusDNATSet struct{ Not bool }

// Exprs implements Stmt.
func (s CtStatusDNATSet) Exprs(*Builder) []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATUS},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: binary.NativeEndian.AppendUint32(nil, CtStatusDNAT), Xor: make([]byte, 4)},
		&expr.Cmp{Op: cmpOp(!s.Not), Register: 1, Data: make([]byte, 4)},
	}
}

func (s CtStatusDNATSet) String() string {
	if s.Not {
		return "ct status ! dnat"
	}
	return "ct status dnat"
}

// FibDaddrLocal matches packets whose destination is a local address.
type FibDaddrLocal struct{}

// Exprs implements Stmt.
func (FibDaddrLocal) Exprs(*Builder) []expr.Any {
	return []expr.Any{
		&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.NativeEndian.AppendUint32(nil, unix.RTN_LOCAL)},
	}
}

func (FibDaddrLocal) String() string { return "fib daddr type local" }

// FibSaddrLocal matches packets whose source is a local address.
type FibSaddrLocal struct{}

// Exprs implements Stmt.
func (FibSaddrLocal) Exprs(*Builder) []expr.Any {
	return []expr.Any{
		&expr.Fib{Register: 1, FlagSADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.NativeEndian.AppendUint32(nil, unix.RTN_LOCAL)},
	}
}

func (FibSaddrLocal) String() string { return "fib saddr type local" }

// MarkTest matches packets whose mark has (or, with Not, lacks) the bit.
type MarkTest struct {
	Bit uint32
	Not bool
}

// Exprs implements Stmt.
func (s MarkTest) Exprs(*Builder) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: binary.NativeEndian.AppendUint32(nil, s.Bit), Xor: make([]byte, 4)},
		&expr.Cmp{Op: cmpOp(!s.Not), Register: 1, Data: make([]byte, 4)},
	}
}

func (s MarkTest) String() string {
	if s.Not {
		return fmt.Sprintf("meta mark & %#x == 0", s.Bit)
	}
	return fmt.Sprintf("meta mark & %#x != 0", s.Bit)
}

// MarkOr sets a bit of the packet mark; MarkXor flips it.
type MarkOr struct{ Bit uint32 }

// Exprs implements Stmt.
func (s MarkOr) Exprs(*Builder) []expr.Any {
	return markOp(^s.Bit, s.Bit)
}

func (s MarkOr) String() string { return fmt.Sprintf("meta mark set meta mark | %#x", s.Bit) }

// MarkXor flips a bit of the packet mark.
type MarkXor struct{ Bit uint32 }

// Exprs implements Stmt.
func (s MarkXor) Exprs(*Builder) []expr.Any { return markOp(0xffffffff, s.Bit) }

func (s MarkXor) String() string { return fmt.Sprintf("meta mark set meta mark ^ %#x", s.Bit) }

func markOp(mask, xor uint32) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: binary.NativeEndian.AppendUint32(nil, mask), Xor: binary.NativeEndian.AppendUint32(nil, xor)},
		&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1},
	}
}

// Counter is an anonymous rule counter.
type Counter struct{}

// Exprs implements Stmt.
func (Counter) Exprs(*Builder) []expr.Any { return []expr.Any{&expr.Counter{}} }
func (Counter) String() string            { return "counter" }

// CounterRef counts into a named counter object.
type CounterRef struct{ Name string }

// Exprs implements Stmt.
func (s CounterRef) Exprs(*Builder) []expr.Any {
	return []expr.Any{&expr.Objref{Type: int(nftables.ObjTypeCounter), Name: s.Name}}
}

func (s CounterRef) String() string { return fmt.Sprintf("counter name %q", s.Name) }

// RejectTCPReset answers a TCP packet with a reset.
type RejectTCPReset struct{}

// Exprs implements Stmt.
func (RejectTCPReset) Exprs(*Builder) []expr.Any {
	return []expr.Any{&expr.Reject{Type: unix.NFT_REJECT_TCP_RST}}
}
func (RejectTCPReset) String() string { return "reject with tcp reset" }

// RejectAdminProhibited answers with ICMP (or ICMPv6) administratively
// prohibited; valid in inet tables.
type RejectAdminProhibited struct{}

// Exprs implements Stmt.
func (RejectAdminProhibited) Exprs(*Builder) []expr.Any {
	return []expr.Any{&expr.Reject{Type: unix.NFT_REJECT_ICMPX_UNREACH, Code: unix.NFT_REJECT_ICMPX_ADMIN_PROHIBITED}}
}
func (RejectAdminProhibited) String() string { return "reject with icmpx admin-prohibited" }

// Verdicts.
type (
	// Jump to a chain and come back.
	Jump struct{ Chain string }
	// Goto a chain without coming back.
	Goto struct{ Chain string }
	// Return to the calling chain.
	Return struct{}
	// Accept the packet.
	Accept struct{}
)

// Exprs implements Stmt.
func (s Jump) Exprs(*Builder) []expr.Any {
	return []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: s.Chain}}
}
func (s Jump) String() string { return "jump " + s.Chain }

// Exprs implements Stmt.
func (s Goto) Exprs(*Builder) []expr.Any {
	return []expr.Any{&expr.Verdict{Kind: expr.VerdictGoto, Chain: s.Chain}}
}
func (s Goto) String() string { return "goto " + s.Chain }

// Exprs implements Stmt.
func (Return) Exprs(*Builder) []expr.Any { return []expr.Any{&expr.Verdict{Kind: expr.VerdictReturn}} }
func (Return) String() string            { return "return" }

// Exprs implements Stmt.
func (Accept) Exprs(*Builder) []expr.Any { return []expr.Any{&expr.Verdict{Kind: expr.VerdictAccept}} }
func (Accept) String() string            { return "accept" }

// Masquerade source-NATs to the outgoing interface's address.
type Masquerade struct{ FullyRandom bool }

// Exprs implements Stmt.
func (s Masquerade) Exprs(*Builder) []expr.Any {
	return []expr.Any{&expr.Masq{FullyRandom: s.FullyRandom}}
}

func (s Masquerade) String() string {
	if s.FullyRandom {
		return "masquerade fully-random"
	}
	return "masquerade"
}

// DNAT rewrites the destination to an IPv4 address and port.
type DNAT struct {
	Addr netip.Addr
	Port uint16
}

// Exprs implements Stmt.
func (s DNAT) Exprs(*Builder) []expr.Any {
	fam := uint32(unix.NFPROTO_IPV4)
	if s.Addr.Is6() {
		fam = unix.NFPROTO_IPV6
	}
	return []expr.Any{
		&expr.Immediate{Register: 1, Data: s.Addr.AsSlice()},
		&expr.Immediate{Register: 2, Data: binary.BigEndian.AppendUint16(nil, s.Port)},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: fam, RegAddrMin: 1, RegProtoMin: 2, Specified: true},
	}
}

func (s DNAT) String() string {
	return fmt.Sprintf("dnat %s to %s", ipName(s.Addr.Is6()), netip.AddrPortFrom(s.Addr, s.Port))
}

// NumgenVmap picks one of the chains at random (numgen random mod N) and
// jumps there with goto.
type NumgenVmap struct{ Chains []string }

// Exprs implements Stmt.
func (s NumgenVmap) Exprs(b *Builder) []expr.Any {
	set := &nftables.Set{Table: b.table(), Anonymous: true, Constant: true, IsMap: true, KeyType: nftables.TypeInteger, DataType: nftables.TypeVerdict, KeyByteOrder: binaryutil.NativeEndian}
	elems := make([]nftables.SetElement, len(s.Chains))
	for i, c := range s.Chains {
		elems[i] = nftables.SetElement{Key: binary.NativeEndian.AppendUint32(nil, uint32(i)), VerdictData: &expr.Verdict{Kind: expr.VerdictGoto, Chain: c}}
	}
	b.addAnon(set, elems)
	return []expr.Any{
		&expr.Numgen{Register: 1, Modulus: uint32(len(s.Chains)), Type: unix.NFT_NG_RANDOM},
		&expr.Lookup{SourceRegister: 1, DestRegister: 0, IsDestRegSet: true, SetName: set.Name, SetID: set.ID},
	}
}

func (s NumgenVmap) String() string {
	parts := make([]string, len(s.Chains))
	for i, c := range s.Chains {
		parts[i] = fmt.Sprintf("%d : goto %s", i, c)
	}
	return fmt.Sprintf("numgen random mod %d vmap { %s }", len(s.Chains), strings.Join(parts, ", "))
}

// ServiceKey matches "ip daddr . meta l4proto . th dport" against a named
// verdict map.
type ServiceKey struct {
	Map string
	// Local, when set, first requires the destination to be a local
	// address (for node ports) instead of keying on the address.
	PortOnly bool
}

// Exprs implements Stmt.
func (s ServiceKey) Exprs(*Builder) []expr.Any {
	if s.PortOnly {
		return []expr.Any{
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Payload{DestRegister: 9, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
			&expr.Lookup{SourceRegister: 1, DestRegister: 0, IsDestRegSet: true, SetName: s.Map},
		}
	}
	return []expr.Any{
		loadAddr(Daddr, false, 1),
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 9},
		&expr.Payload{DestRegister: 10, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Lookup{SourceRegister: 1, DestRegister: 0, IsDestRegSet: true, SetName: s.Map},
	}
}

func (s ServiceKey) String() string {
	if s.PortOnly {
		return "meta l4proto . th dport vmap @" + s.Map
	}
	return "ip daddr . meta l4proto . th dport vmap @" + s.Map
}

// ServiceMapKey returns the element key of "ip daddr . meta l4proto . th
// dport" (each field padded to 4 bytes).
func ServiceMapKey(addr netip.Addr, proto byte, port uint16) []byte {
	k := make([]byte, 12)
	copy(k, addr.AsSlice())
	k[4] = proto
	binary.BigEndian.PutUint16(k[8:], port)
	return k
}

// PortMapKey returns the element key of "meta l4proto . th dport".
func PortMapKey(proto byte, port uint16) []byte {
	k := make([]byte, 8)
	k[0] = proto
	binary.BigEndian.PutUint16(k[4:], port)
	return k
}

// SaddrInSetGoto matches "ip saddr @set goto chain" used for session
// affinity.
type SaddrInSetGoto = AddrInSet

// DynsetUpdateSaddr adds (or refreshes) the source address in a dynamic set
// with timeout: "update @set { ip saddr }".
type DynsetUpdateSaddr struct {
	Set     string
	Timeout time.Duration
}

// Exprs implements Stmt.
func (s DynsetUpdateSaddr) Exprs(*Builder) []expr.Any {
	return []expr.Any{
		loadAddr(Saddr, false, 1),
		&expr.Dynset{SrcRegKey: 1, SetName: s.Set, Operation: unix.NFT_DYNSET_OP_UPDATE, Timeout: s.Timeout},
	}
}

func (s DynsetUpdateSaddr) String() string {
	return fmt.Sprintf("update @%s { ip saddr timeout %s }", s.Set, s.Timeout)
}

// Drop drops the packet.
type Drop struct{}

// Exprs implements Stmt.
func (Drop) Exprs(*Builder) []expr.Any { return []expr.Any{&expr.Verdict{Kind: expr.VerdictDrop}} }
func (Drop) String() string            { return "drop" }

// BufferSize is the socket buffer Conn asks for: a large table is written
// in one netlink transaction, one sendmsg of every message, which must fit
// in the send buffer (nft(8) raises it the same way).
const BufferSize = 64 << 20

// Conn opens an nftables connection to the network namespace at nsPath
// (the current one when empty) with buffers large enough for big
// transactions. The returned function releases the namespace handle.
func Conn(nsPath string) (*nftables.Conn, func(), error) {
	opts := []nftables.ConnOption{nftables.WithSockOptions(func(c *netlink.Conn) error {
		rc, err := c.SyscallConn()
		if err != nil {
			return err
		}
		var serr error
		err = rc.Control(func(fd uintptr) {
			// The FORCE variants pass net.core.[rw]mem_max for root; fall
			// back to the capped ones otherwise.
			for _, o := range [][2]int{{unix.SO_SNDBUFFORCE, unix.SO_SNDBUF}, {unix.SO_RCVBUFFORCE, unix.SO_RCVBUF}} {
				if e := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, o[0], BufferSize); e != nil {
					if e := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, o[1], BufferSize); e != nil && serr == nil {
						serr = e
					}
				}
			}
		})
		if err != nil {
			return err
		}
		return serr
	})}
	release := func() {}
	if nsPath != "" {
		fd, err := os.Open(nsPath)
		if err != nil {
			return nil, nil, fmt.Errorf("open netns: %w", err)
		}
		opts = append(opts, nftables.WithNetNSFd(int(fd.Fd())))
		release = func() { fd.Close() }
	}
	c, err := nftables.New(opts...)
	if err != nil {
		release()
		return nil, nil, err
	}
	return c, release, nil
}

// Equal reports whether two rules are the same statements. Every statement
// type is a comparable struct except NumgenVmap, compared by its chains;
// new statement types must stay comparable.
func Equal(a, b Rule) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if x, ok := a[i].(NumgenVmap); ok {
			y, ok := b[i].(NumgenVmap)
			if !ok || !slices.Equal(x.Chains, y.Chains) {
				return false
			}
			continue
		}
		if _, ok := b[i].(NumgenVmap); ok || a[i] != b[i] {
			return false
		}
	}
	return true
}

// IifNotLoopback matches packets that did not arrive on the loopback
// device (ifindex 1 in every namespace).
type IifNotLoopback struct{}

// Exprs implements Stmt.
func (IifNotLoopback) Exprs(*Builder) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyIIF, Register: 1},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binary.NativeEndian.AppendUint32(nil, 1)},
	}
}

func (IifNotLoopback) String() string { return `iif != "lo"` }

// RejectPortUnreachable answers with ICMP port unreachable (ip tables):
// TCP and UDP senders see "connection refused".
type RejectPortUnreachable struct{}

// Exprs implements Stmt.
func (RejectPortUnreachable) Exprs(*Builder) []expr.Any {
	return []expr.Any{&expr.Reject{Type: unix.NFT_REJECT_ICMP_UNREACH, Code: 3}}
}
func (RejectPortUnreachable) String() string { return "reject" }

// CtStateInvalid matches packets conntrack finds invalid.
type CtStateInvalid struct{}

// Exprs implements Stmt.
func (CtStateInvalid) Exprs(*Builder) []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: binary.NativeEndian.AppendUint32(nil, expr.CtStateBitINVALID), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)},
	}
}

func (CtStateInvalid) String() string { return "ct state invalid" }
