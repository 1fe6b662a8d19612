package config

import (
	"net/url"
	"path/filepath"
)

// defaultPicturesURL is the directory pictures under the data directory,
// created on first use.
func defaultPicturesURL(dataDir string) string {
	dir, err := filepath.Abs(filepath.Join(dataDir, "pictures"))
	if err != nil {
		dir = filepath.Join(dataDir, "pictures")
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(dir), RawQuery: "create_dir=1"}
	return u.String()
}
