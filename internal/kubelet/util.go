package kubelet

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
)

func sortStrings(s []string) { sort.Strings(s) }

// readLimited reads at most n bytes of a file.
func readLimited(path string, n int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, n))
}

// tailLog returns the message text of the last lines of a CRI log file
// ("<time> <stream> <P|F> <text>"), at most maxBytes.
func tailLog(path string, lines, maxBytes int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var all []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), " ", 4)
		text := ""
		if len(parts) == 4 {
			text = parts[3]
			if parts[2] == "F" {
				text += "\n"
			}
		}
		all = append(all, text)
		if len(all) > lines {
			all = all[1:]
		}
	}
	out := []byte(strings.Join(all, ""))
	if len(out) > maxBytes {
		out = out[len(out)-maxBytes:]
	}
	return string(bytes.TrimRight(out, "\x00"))
}

// nodeMemory is the machine's memory in bytes (MemTotal).
func nodeMemory() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "MemTotal:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}
