package passwords

import "testing"

var testParams = Params{MemoryKiB: 19 * 1024, Iterations: 2, Parallelism: 1}

func TestHashVerify(t *testing.T) {
	h, err := New(testParams)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := h.Hash("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if ok, rehash, err := h.Verify("correct horse battery staple", enc); err != nil || !ok || rehash {
		t.Fatalf("right password: ok=%v rehash=%v err=%v", ok, rehash, err)
	}
	if ok, _, _ := h.Verify("correct horse battery stapl", enc); ok {
		t.Fatal("wrong password verified")
	}
	enc2, _ := h.Hash("correct horse battery staple")
	if enc == enc2 {
		t.Fatal("two hashes of one password are equal: salt is not random")
	}
}

func TestRehashWhenParametersRaised(t *testing.T) {
	weak, _ := New(testParams)
	enc, _ := weak.Hash("pw-1234567")
	strong, _ := New(Params{MemoryKiB: 32 * 1024, Iterations: 3, Parallelism: 1})
	ok, rehash, err := strong.Verify("pw-1234567", enc)
	if err != nil || !ok || !rehash {
		t.Fatalf("ok=%v rehash=%v err=%v; want a match that asks for rehash", ok, rehash, err)
	}
}

func TestMalformed(t *testing.T) {
	h, _ := New(testParams)
	for _, bad := range []string{"", "plain", "$argon2i$v=19$m=1,t=1,p=1$AA$AA", "$argon2id$v=19$m=x$AA$AA"} {
		if _, _, err := h.Verify("x", bad); err == nil {
			t.Errorf("Verify(%q) accepted a malformed hash", bad)
		}
	}
}

func TestNewRejectsUnusableParams(t *testing.T) {
	for _, p := range []Params{
		{MemoryKiB: 19 * 1024, Iterations: 0, Parallelism: 1},
		{MemoryKiB: 19 * 1024, Iterations: 2, Parallelism: 0},
		{MemoryKiB: 7, Iterations: 2, Parallelism: 1},
	} {
		if _, err := New(p); err == nil {
			t.Errorf("New(%+v) accepted parameters argon2id cannot use", p)
		}
	}
}
