package passwords_test

import (
	"testing"

	"github.com/tollgate/tollgate/passwords"
)

// The cost of one sign-in's hash at the default parameters.
func BenchmarkVerifyDefaultParams(b *testing.B) {
	h, err := passwords.New(passwords.Params{MemoryKiB: 19 * 1024, Iterations: 2, Parallelism: 1})
	if err != nil {
		b.Fatal(err)
	}
	hash, err := h.Hash("correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if ok, _, err := h.Verify("correct horse battery staple", hash); err != nil || !ok {
				b.Fatal("verify failed")
			}
		}
	})
}
