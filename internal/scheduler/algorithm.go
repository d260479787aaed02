package scheduler

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
)

// Sampling of nodes, as upstream's percentageOfNodesToScore: with many nodes the search
// for feasible nodes stops once this many are found.
const (
	minFeasibleNodesToFind           = 100
	minFeasibleNodesPercentageToFind = 5
	basePercentageOfNodesToScore     = 50
)

// FitError says why no node could take a pod.
type FitError struct {
	NumAllNodes int
	// Reasons counts, for each reason, the nodes that gave it.
	Reasons map[string]int
}

// Error words the failure as upstream's scheduler does, for the pod's condition and event.
func (e *FitError) Error() string {
	if e.NumAllNodes == 0 {
		return "no nodes available to schedule pods"
	}
	var parts []string
	for r, n := range e.Reasons {
		parts = append(parts, fmt.Sprintf("%d %s", n, r))
	}
	sort.Strings(parts)
	msg := fmt.Sprintf("0/%d nodes are available:", e.NumAllNodes)
	if len(parts) > 0 {
		msg += " " + strings.Join(parts, ", ") + "."
	}
	return msg
}

// Algorithm decides where pods go. It reads a Cache the caller keeps still (holding its
// read lock) and performs no I/O. It is not safe for concurrent use: it remembers where
// the last search stopped so that successive pods look at different nodes first.
type Algorithm struct {
	// Scoring is LeastAllocated (spread load; the default) or MostAllocated (bin packing).
	Scoring string
	// PercentageOfNodesToScore fixes the share of nodes searched for feasible ones;
	// 0 adapts it to the cluster's size like upstream (50% at 100 nodes, down to 5%).
	PercentageOfNodesToScore int
	// Rand breaks ties between nodes with the best score.
	Rand *rand.Rand

	nextStart int
}

// numFeasibleNodesToFind returns how many feasible nodes to look for among n.
func (a *Algorithm) numFeasibleNodesToFind(n int) int {
	if n < minFeasibleNodesToFind {
		return n
	}
	pct := a.PercentageOfNodesToScore
	if pct <= 0 {
		pct = basePercentageOfNodesToScore - n/125
		if pct < minFeasibleNodesPercentageToFind {
			pct = minFeasibleNodesPercentageToFind
		}
	}
	if pct >= 100 {
		return n
	}
	k := n * pct / 100
	if k < minFeasibleNodesToFind {
		return minFeasibleNodesToFind
	}
	return k
}

// Schedule picks a node for the pod. It returns a *FitError when no node fits, or another
// error when the pod itself is malformed.
func (a *Algorithm) Schedule(c *Cache, pi *PodInfo) (string, error) {
	nodes := c.Nodes()
	if len(nodes) == 0 {
		return "", &FitError{}
	}
	st, err := prepare(c, pi)
	if err != nil {
		return "", err
	}
	want := a.numFeasibleNodesToFind(len(nodes))
	feasible := make([]*NodeInfo, 0, min(want, len(nodes)))
	var reasons map[string]int
	start := a.nextStart % len(nodes)
	processed := 0
	for i := 0; i < len(nodes) && len(feasible) < want; i++ {
		ni := nodes[(start+i)%len(nodes)]
		processed++
		if rs := st.filter(ni); len(rs) > 0 {
			if reasons == nil {
				reasons = map[string]int{}
			}
			for _, r := range rs {
				reasons[r]++
			}
			continue
		}
		feasible = append(feasible, ni)
	}
	a.nextStart = (start + processed) % len(nodes)
	if len(feasible) == 0 {
		return "", &FitError{NumAllNodes: len(nodes), Reasons: reasons}
	}
	if len(feasible) == 1 {
		return feasible[0].Node.Name, nil
	}
	scores := score(c, st, feasible, a.Scoring)
	return feasible[a.selectHost(scores)].Node.Name, nil
}

// selectHost returns the index of a best-scoring node, chosen uniformly among ties.
func (a *Algorithm) selectHost(scores []int64) int {
	best, ties := 0, 1
	for i := 1; i < len(scores); i++ {
		switch {
		case scores[i] > scores[best]:
			best, ties = i, 1
		case scores[i] == scores[best]:
			ties++
			if a.Rand == nil || a.Rand.IntN(ties) == 0 {
				best = i
			}
		}
	}
	return best
}
