package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServePicturesDirectory: serve opens the picture bucket at start,
// by default the directory pictures under data_dir, created on first use.
func TestServePicturesDirectory(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	startServe(t, "TOLLGATE_DATA_DIR="+dataDir)
	if fi, err := os.Stat(filepath.Join(dataDir, "pictures")); err != nil || !fi.IsDir() {
		t.Fatalf("data_dir/pictures after start: %v", err)
	}
}

// TestServeBadPicturesURL: a bucket that cannot be opened stops the start
// and names the key.
func TestServeBadPicturesURL(t *testing.T) {
	var stderr bytes.Buffer
	missing := filepath.Join(t.TempDir(), "nowhere")
	code := run(context.Background(), []string{"serve", "--issuer", "http://" + freeAddr(t)}, strings.NewReader(""), &bytes.Buffer{}, &stderr,
		[]string{"TOLLGATE_DATA_DIR=" + filepath.Join(t.TempDir(), "data"), "TOLLGATE_PICTURES_URL=file://" + filepath.ToSlash(missing)})
	if code == 0 || !strings.Contains(stderr.String(), "pictures_url") {
		t.Fatalf("serve with a missing picture directory: exit %d: %s", code, stderr.String())
	}
}
