package config

import (
	"encoding"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// applyEnv sets every field whose env tag names a variable present in environ.
func applyEnv(cfg *Config, environ []string) error {
	env := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	return applyEnvTo(reflect.ValueOf(cfg).Elem(), env)
}

// applyEnvTo fills the struct v, and the nested sections (structs without
// an env tag) within it.
func applyEnvTo(v reflect.Value, env map[string]string) error {
	t := v.Type()
	for i := range t.NumField() {
		name := t.Field(i).Tag.Get("env")
		if name == "" && t.Field(i).Type.Kind() == reflect.Struct {
			if err := applyEnvTo(v.Field(i), env); err != nil {
				return err
			}
			continue
		}
		raw, ok := env[name]
		if name == "" || !ok {
			continue
		}
		if err := setField(v.Field(i), raw); err != nil {
			shown := raw
			if name == "TOLLGATE_SECRET" || name == "TOLLGATE_ADMIN_TOKEN" || name == "TOLLGATE_SMTP_PASSWORD" || strings.HasSuffix(name, "_TOKEN") {
				shown = "(hidden)"
			}
			return fmt.Errorf("%s=%q: %w", name, shown, err)
		}
	}
	return nil
}

func setField(f reflect.Value, raw string) error {
	if u, ok := f.Addr().Interface().(encoding.TextUnmarshaler); ok {
		return u.UnmarshalText([]byte(raw))
	}
	switch f.Kind() {
	case reflect.String:
		f.SetString(raw)
	case reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return fmt.Errorf("want true or false")
		}
		f.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(raw, 10, f.Type().Bits())
		if err != nil {
			return fmt.Errorf("want a whole number")
		}
		f.SetInt(n)
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(raw, 10, f.Type().Bits())
		if err != nil {
			return fmt.Errorf("want a whole number")
		}
		f.SetUint(n)
	default:
		return fmt.Errorf("unsupported kind %s", f.Kind())
	}
	return nil
}
