package passwords_test

import (
	"testing"

	"github.com/tollgate/tollgate/passwords"
)

// The cost of one sign-in's hash at the default parameters, for a known
// account and for an unknown one (VerifyNothing), which must cost the same.
func BenchmarkVerifyDefaultParams(b *testing.B) {
	const password = "correct horse battery staple"
	h, err := passwords.New(passwords.Params{MemoryKiB: 19 * 1024, Iterations: 2, Parallelism: 1})
	if err != nil {
		b.Fatal(err)
	}
	hash, err := h.Hash(password)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		verify func()
	}{
		{"account", func() {
			if ok, _, err := h.Verify(password, hash); err != nil || !ok {
				b.Fatal("verify failed")
			}
		}},
		{"no-account", func() { h.VerifyNothing(password) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					c.verify()
				}
			})
		})
	}
}
