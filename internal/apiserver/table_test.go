package apiserver

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/bosun-k8s/bosun/internal/registry"
)

func TestWriteCellsPlacesName(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	row := func(runtime.Object) []interface{} { return nil }
	col := func(n string) metav1.TableColumnDefinition { return metav1.TableColumnDefinition{Name: n} }
	nameCol := metav1.TableColumnDefinition{Name: "Name", Format: "name"}
	cases := []struct {
		name  string
		kind  *registry.Kind
		cells []interface{}
		want  []interface{}
	}{
		{"no columns: name and age", &registry.Kind{}, nil, []interface{}{"obj", "5m"}},
		{"name first", &registry.Kind{Columns: []metav1.TableColumnDefinition{col("A"), col("B")}, Row: row},
			[]interface{}{"a", int64(2)}, []interface{}{"obj", "a", float64(2)}},
		{"name last", &registry.Kind{Columns: []metav1.TableColumnDefinition{col("A"), col("B"), nameCol}, Row: row},
			[]interface{}{"a", "b"}, []interface{}{"a", "b", "obj"}},
		{"name in the middle", &registry.Kind{Columns: []metav1.TableColumnDefinition{col("A"), nameCol, col("B")}, Row: row},
			[]interface{}{"a", registry.Since(now.Add(-2 * time.Hour))}, []interface{}{"a", "obj", "120m"}},
		{"name declared first", &registry.Kind{Columns: []metav1.TableColumnDefinition{nameCol, col("A")}, Row: row},
			[]interface{}{true}, []interface{}{"obj", true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			writeCells(&buf, "obj", now.Add(-5*time.Minute), tc.cells, tc.kind, now)
			var got []interface{}
			if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
				t.Fatalf("invalid JSON %s: %v", buf.String(), err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("cells %v, want %v", got, tc.want)
			}
			if cols := tableColumns(tc.kind); len(cols) != len(tc.want) {
				t.Errorf("%d columns for %d cells", len(cols), len(tc.want))
			}
		})
	}
}
