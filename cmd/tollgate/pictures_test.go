package main

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/pictures"
	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/storage/backend"
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

// TestDeleteUserRemovesPicture: `tollgate users delete` on the local
// database removes the user's uploaded picture from the bucket too.
func TestDeleteUserRemovesPicture(t *testing.T) {
	ctx := context.Background()
	dataDir := filepath.Join(t.TempDir(), "data")
	env := []string{"TOLLGATE_DATA_DIR=" + dataDir, "TOLLGATE_ISSUER=http://id.example"}
	var out bytes.Buffer
	if code := run(ctx, []string{"users", "create", "--email", "grace@example.com"}, strings.NewReader(""), &out, io.Discard, env); code != 0 {
		t.Fatalf("users create: %d", code)
	}
	bucket, err := pictures.Open(ctx, "file://"+filepath.ToSlash(filepath.Join(dataDir, "pictures"))+"?create_dir=1")
	if err != nil {
		t.Fatal(err)
	}
	defer bucket.Close()
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	key, err := bucket.Put(ctx, &buf)
	if err != nil {
		t.Fatal(err)
	}
	store, err := backend.Open(ctx, "sqlite:"+filepath.Join(dataDir, "tollgate.db"), "")
	if err != nil {
		t.Fatal(err)
	}
	u, err := store.GetUserByEmail(ctx, "grace@example.com")
	if err == nil {
		err = store.UpdateUser(ctx, u.ID, func(u storage.User) (storage.User, error) {
			u.Picture = pictures.URL("http://id.example", key)
			return u, nil
		})
	}
	store.Close()
	if err != nil {
		t.Fatal(err)
	}
	if code := run(ctx, []string{"users", "delete", "grace@example.com"}, strings.NewReader(""), io.Discard, io.Discard, env); code != 0 {
		t.Fatalf("users delete: %d", code)
	}
	if _, err := bucket.Get(ctx, key); !errors.Is(err, pictures.ErrNotFound) {
		t.Fatalf("the deleted user's picture: %v", err)
	}
}
