package config_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/config"
)

// pictures_url defaults to a directory under data_dir, created on first
// use; other schemes than file, s3 and mem are refused, naming the key.
func TestPicturesURL(t *testing.T) {
	cfg, err := config.Load("", []string{"TOLLGATE_DATA_DIR=/var/lib/tollgate"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "file://" + filepath.ToSlash("/var/lib/tollgate/pictures") + "?create_dir=1"; cfg.PicturesURL != want {
		t.Fatalf("pictures_url = %q, want %q", cfg.PicturesURL, want)
	}
	for _, ok := range []string{"s3://pictures?region=eu-west-1", "mem://", "file:///srv/pictures"} {
		if _, err := config.Load("", []string{"TOLLGATE_PICTURES_URL=" + ok}); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	_, err = config.Load("", []string{"TOLLGATE_PICTURES_URL=ftp://pictures"})
	if err == nil || !strings.Contains(err.Error(), "pictures_url") {
		t.Fatalf("ftp pictures_url: %v", err)
	}
}
