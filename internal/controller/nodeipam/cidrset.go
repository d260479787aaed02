package nodeipam

import (
	"errors"
	"fmt"
	"math/big"
	"net"
)

// ErrFull means every block of the cluster CIDR is in use.
var ErrFull = errors.New("cidr set: no free block left")

// cidrSet hands out fixed-size blocks of a cluster CIDR.
type cidrSet struct {
	base      *big.Int
	bits      int // address length in bits
	maskSize  int
	blocks    int
	used      []bool
	next      int
	allocated int
}

func newCIDRSet(cluster *net.IPNet, maskSize int) (*cidrSet, error) {
	ones, bits := cluster.Mask.Size()
	if maskSize < ones || maskSize > bits {
		return nil, fmt.Errorf("node mask size %d does not fit cluster CIDR %s", maskSize, cluster)
	}
	if maskSize-ones > 20 {
		return nil, fmt.Errorf("cluster CIDR %s split into /%d blocks is too many blocks", cluster, maskSize)
	}
	n := 1 << (maskSize - ones)
	return &cidrSet{
		base: new(big.Int).SetBytes(normalize(cluster.IP)), bits: bits, maskSize: maskSize,
		blocks: n, used: make([]bool, n),
	}, nil
}

func normalize(ip net.IP) net.IP {
	if v4 := ip.To4(); v4 != nil {
		return v4
	}
	return ip.To16()
}

func (s *cidrSet) block(i int) *net.IPNet {
	off := new(big.Int).Lsh(big.NewInt(int64(i)), uint(s.bits-s.maskSize))
	v := new(big.Int).Add(s.base, off).Bytes()
	ip := make(net.IP, s.bits/8)
	copy(ip[len(ip)-len(v):], v)
	return &net.IPNet{IP: ip, Mask: net.CIDRMask(s.maskSize, s.bits)}
}

// index returns the block number of cidr, or an error if it is not one of
// the set's blocks.
func (s *cidrSet) index(cidr *net.IPNet) (int, error) {
	ones, bits := cidr.Mask.Size()
	if ones != s.maskSize || bits != s.bits {
		return 0, fmt.Errorf("%s is not a /%d block", cidr, s.maskSize)
	}
	v := new(big.Int).SetBytes(normalize(cidr.IP))
	v.Sub(v, s.base)
	if v.Sign() < 0 {
		return 0, fmt.Errorf("%s is outside the cluster CIDR", cidr)
	}
	v.Rsh(v, uint(s.bits-s.maskSize))
	if !v.IsInt64() || v.Int64() >= int64(s.blocks) {
		return 0, fmt.Errorf("%s is outside the cluster CIDR", cidr)
	}
	return int(v.Int64()), nil
}

// allocateNext returns the next free block after the last one handed out.
func (s *cidrSet) allocateNext() (*net.IPNet, error) {
	if s.allocated == s.blocks {
		return nil, ErrFull
	}
	for i := 0; i < s.blocks; i++ {
		c := (s.next + i) % s.blocks
		if !s.used[c] {
			s.used[c] = true
			s.allocated++
			s.next = (c + 1) % s.blocks
			return s.block(c), nil
		}
	}
	return nil, ErrFull
}

// occupy marks cidr used.
func (s *cidrSet) occupy(cidr *net.IPNet) error {
	i, err := s.index(cidr)
	if err != nil {
		return err
	}
	if !s.used[i] {
		s.used[i] = true
		s.allocated++
	}
	return nil
}

// release frees cidr.
func (s *cidrSet) release(cidr *net.IPNet) error {
	i, err := s.index(cidr)
	if err != nil {
		return err
	}
	if s.used[i] {
		s.used[i] = false
		s.allocated--
	}
	return nil
}
