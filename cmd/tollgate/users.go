package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/tollgate/tollgate/server/admin"
	"github.com/tollgate/tollgate/storage"
)

func (a *app) usersCommand() *cobra.Command {
	users := &cobra.Command{Use: "users", Short: "Create and manage user accounts"}

	var email, name string
	var passwordStdin, verified bool
	var roles []string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a user and print it as JSON",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			addr, err := normalizeEmail(email)
			if err != nil {
				return usagef("--email %q: %v", email, err)
			}
			checkedRoles, err := admin.CheckRoles(roles)
			if err != nil {
				return usagef("--role: %v", err)
			}
			var password string
			if passwordStdin {
				if password, err = readPassword(a.stdin); err != nil {
					return err
				}
				cfg, err := a.loadConfig(cmd)
				if err != nil {
					return err
				}
				if err := cfg.PasswordPolicy().Check(password, addr, name); err != nil {
					return usagef("password: %v", err)
				}
			}
			return a.withEnv(func(ctx context.Context, e *env, _ []string) error {
				return a.createUser(ctx, e, addr, strings.TrimSpace(name), password, verified, checkedRoles)
			})(cmd, nil)
		},
	}
	create.Flags().StringVar(&email, "email", "", "email address, used to sign in (required)")
	create.Flags().StringVar(&name, "name", "", "full name")
	create.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from standard input (without it, the user cannot sign in with a password)")
	create.Flags().BoolVar(&verified, "verified", false, "mark the email address as verified")
	create.Flags().StringSliceVar(&roles, "role", nil, "give the user a role (repeatable); admin opens the admin console")

	users.AddCommand(create,
		&cobra.Command{
			Use: "list", Short: "List users as JSON", Args: cobra.NoArgs,
			RunE: a.withEnv(func(ctx context.Context, e *env, _ []string) error {
				list, err := e.store.ListUsers(ctx)
				if err != nil {
					return fmt.Errorf("list users: %w", err)
				}
				out := make([]admin.UserView, 0, len(list))
				rows := [][]string{{"ID", "EMAIL", "NAME", "VERIFIED", "DISABLED"}}
				for _, u := range list {
					out = append(out, admin.ViewUser(u))
					rows = append(rows, []string{u.ID, u.Email, u.Name, strconv.FormatBool(u.EmailVerified), strconv.FormatBool(u.Disabled)})
				}
				return a.print(out, rows)
			}),
		},
		&cobra.Command{
			Use: "get ID|EMAIL", Short: "Print one user as JSON", Args: cobra.ExactArgs(1),
			RunE: a.withEnv(func(ctx context.Context, e *env, args []string) error {
				u, err := findUser(ctx, e, args[0])
				if err != nil {
					return err
				}
				return a.printJSON(admin.ViewUser(u))
			}),
		},
		&cobra.Command{
			Use: "disable ID|EMAIL", Short: "Stop a user from signing in and end their sessions", Args: cobra.ExactArgs(1),
			RunE: a.withEnv(func(ctx context.Context, e *env, args []string) error {
				u, err := findUser(ctx, e, args[0])
				if err != nil {
					return err
				}
				err = e.store.UpdateUser(ctx, u.ID, func(cur storage.User) (storage.User, error) {
					cur.Disabled, cur.UpdatedAt = true, time.Now().UTC().Truncate(time.Second)
					u = cur
					return cur, nil
				})
				if err != nil {
					return fmt.Errorf("disable user: %w", err)
				}
				// A disabled user keeps nothing that still works.
				if err := storage.SignOutEverywhere(ctx, e.store, u.ID); err != nil {
					return fmt.Errorf("sign %s out: %w", u.Email, err)
				}
				return a.printJSON(admin.ViewUser(u))
			}),
		},
		&cobra.Command{
			Use: "delete ID|EMAIL", Short: "Delete a user and print what was deleted", Args: cobra.ExactArgs(1),
			RunE: a.withEnv(func(ctx context.Context, e *env, args []string) error {
				u, err := findUser(ctx, e, args[0])
				if err != nil {
					return err
				}
				if err := storage.SignOutEverywhere(ctx, e.store, u.ID); err != nil {
					return fmt.Errorf("sign %s out: %w", u.Email, err)
				}
				if err := e.store.DeleteUser(ctx, u.ID); err != nil {
					return fmt.Errorf("delete user: %w", err)
				}
				return a.printJSON(admin.ViewUser(u))
			}),
		},
	)
	return users
}

func (a *app) createUser(ctx context.Context, e *env, email, name, password string, verified bool, roles []string) error {
	now := time.Now().UTC().Truncate(time.Second)
	u := storage.User{ID: uuid.NewString(), Email: email, EmailVerified: verified, Name: name, Roles: roles, CreatedAt: now, UpdatedAt: now}
	if password != "" {
		hash, err := e.hasher.Hash(password)
		if err != nil {
			return fmt.Errorf("hash password: %w", err)
		}
		u.PasswordHash = hash
	}
	err := e.store.CreateUser(ctx, u)
	if errors.Is(err, storage.ErrAlreadyExists) {
		return fmt.Errorf("a user with email %q already exists", email)
	}
	if err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	return a.printJSON(admin.ViewUser(u))
}

// findUser looks a user up by email when the argument has an @, else by ID.
func findUser(ctx context.Context, e *env, ref string) (storage.User, error) {
	var u storage.User
	var err error
	if strings.Contains(ref, "@") {
		u, err = e.store.GetUserByEmail(ctx, strings.ToLower(ref))
	} else {
		u, err = e.store.GetUser(ctx, ref)
	}
	if errors.Is(err, storage.ErrNotFound) {
		return u, fmt.Errorf("no user %q", ref)
	}
	if err != nil {
		return u, fmt.Errorf("get user %q: %w", ref, err)
	}
	return u, nil
}

func normalizeEmail(raw string) (string, error) {
	if raw == "" {
		return "", errors.New("required")
	}
	addr, err := mail.ParseAddress(raw)
	if err != nil || addr.Address != raw || addr.Name != "" {
		return "", errors.New("not an email address")
	}
	return strings.ToLower(raw), nil
}

// readPassword reads one line from r: the password, without its newline.
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(r, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password: %w", err)
	}
	return strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r"), nil
}
