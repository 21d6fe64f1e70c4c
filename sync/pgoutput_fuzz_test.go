package sync

import (
	"context"
	"encoding/binary"
	"testing"

	"github.com/stranglerfig/strangler/internal/config"
)

// fuzzStream joins messages, each after its length (2 bytes), into one
// fuzz input.
func fuzzStream(msgs ...[]byte) []byte {
	var out []byte
	for _, m := range msgs {
		out = binary.BigEndian.AppendUint16(out, uint16(len(m)))
		out = append(out, m...)
	}
	return out
}

// fuzzHandler encodes every change of a bound relation as the applier
// would, so that the fuzzer reaches the converters through the decoder.
type fuzzHandler struct {
	NopLogicalHandler
	t     *revTable
	batch *revBatch
}

func (h *fuzzHandler) OnRelation(_ context.Context, r *Relation) error {
	if r.Name == h.t.m.Target {
		_ = h.t.bind(r)
	}
	return nil
}

func (h *fuzzHandler) OnChange(_ context.Context, c LogicalChange) error {
	if c.Relation.ID != h.t.relID || h.t.relIdx == nil {
		return nil
	}
	rc, err := h.t.encodeChange(c)
	if err == nil {
		h.batch.merge(rc)
	}
	return nil
}

// FuzzDecodePgoutput feeds arbitrary message streams to the pgoutput
// decoder and the encoding behind it: no panic, whatever the bytes.
func FuzzDecodePgoutput(f *testing.F) {
	f.Add(fuzzStream(sampleStream()...))
	m, err := buildTableMap("db", config.Table{Name: "orders"}, []SourceColumn{
		{Name: "id", ColumnType: "int(11)", DataType: "int"},
		{Name: "note", ColumnType: "varchar(20)", DataType: "varchar", CharLen: 20, Charset: "utf8mb4", Nullable: true},
		{Name: "blob", ColumnType: "blob", DataType: "blob", Nullable: true},
	}, []indexInfo{{Name: "PRIMARY", Columns: []string{"id"}}}, Policies{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rt, err := newRevTable(m, "db", false)
		if err != nil {
			t.Fatal(err)
		}
		h := &fuzzHandler{t: rt, batch: newRevBatch()}
		d := NewPgoutputDecoder()
		for len(data) >= 2 {
			n := int(binary.BigEndian.Uint16(data))
			data = data[2:]
			if n > len(data) {
				n = len(data)
			}
			if err := d.Decode(context.Background(), data[:n], h); err != nil {
				return
			}
			data = data[n:]
		}
		for _, tb := range h.batch.order {
			_ = tb.statements(1 << 10)
		}
	})
}
