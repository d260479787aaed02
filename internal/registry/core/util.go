package core

import (
	"sort"
	"strconv"
)

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func itoa(n int32) string { return strconv.FormatInt(int64(n), 10) }
