package keyring

import "time"

// Info describes a key to admins; never its private material.
type Info struct {
	KID       string     `json:"kid"`
	Algorithm string     `json:"alg"`
	State     string     `json:"state"`
	CreatedAt time.Time  `json:"created_at"`
	RetiresAt *time.Time `json:"retires_at,omitempty"`
}

// Info returns what admins may see of k.
func (k Key) Info() Info {
	i := Info{KID: k.ID, Algorithm: k.Algorithm, State: string(k.State), CreatedAt: k.CreatedAt}
	if !k.RetiresAt.IsZero() {
		retires := k.RetiresAt
		i.RetiresAt = &retires
	}
	return i
}

// Infos describes every published key.
func Infos(keys []Key) []Info {
	out := make([]Info, 0, len(keys))
	for _, k := range keys {
		out = append(out, k.Info())
	}
	return out
}
