// Package shadow compares the answers of legacy and new services on shadow
// traffic: the mirroring queue, JSON-aware response comparison, noise
// learning, the diff store, reports and replay. The facade hands it copies
// through proxy.Shadower; until this package implements it, the facade counts
// copies with a no-op.
package shadow
