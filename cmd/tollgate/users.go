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
		Short: "Create a user and print it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			addr, err := normalizeEmail(email)
			if err != nil {
				return usagef("--email %q: %v", email, err)
			}
			in := admin.UserInput{Email: &addr, Name: &name}
			if len(roles) > 0 {
				checked, err := admin.CheckRoles(roles)
				if err != nil {
					return usagef("--role: %v", err)
				}
				in.Roles = &checked
			}
			if verified {
				in.EmailVerified = &verified
			}
			if passwordStdin {
				if in.Password, err = a.passwordInput(cmd, addr, name); err != nil {
					return err
				}
			}
			return a.withAdmin(func(ctx context.Context, b adminBackend, _ []string) error {
				u, err := b.CreateUser(ctx, in)
				if err != nil {
					return err
				}
				return a.print(u, userTable(u))
			})(cmd, nil)
		},
	}
	create.Flags().StringVar(&email, "email", "", "email address, used to sign in (required)")
	create.Flags().StringVar(&name, "name", "", "full name")
	create.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from standard input (without it, the user cannot sign in with a password)")
	create.Flags().BoolVar(&verified, "verified", false, "mark the email address as verified")
	create.Flags().StringSliceVar(&roles, "role", nil, "give the user a role (repeatable); admin opens the admin console")

	var upEmail, upName string
	var upPassword, upVerified bool
	update := &cobra.Command{
		Use:   "update ID|EMAIL",
		Short: "Change a user's email, name, verification or password (a new password signs them out everywhere)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var in admin.UserInput
			if cmd.Flags().Changed("email") {
				addr, err := normalizeEmail(upEmail)
				if err != nil {
					return usagef("--email %q: %v", upEmail, err)
				}
				in.Email = &addr
			}
			if cmd.Flags().Changed("name") {
				in.Name = &upName
			}
			if cmd.Flags().Changed("verified") {
				in.EmailVerified = &upVerified
			}
			if upPassword {
				var err error
				if in.Password, err = a.passwordInput(cmd, upEmail, upName); err != nil {
					return err
				}
			}
			if in == (admin.UserInput{}) {
				return usagef("nothing to change: give --email, --name, --verified or --password-stdin")
			}
			return a.withAdmin(func(ctx context.Context, b adminBackend, args []string) error {
				u, err := b.UpdateUser(ctx, args[0], in)
				if err != nil {
					return err
				}
				return a.print(u, userTable(u))
			})(cmd, args)
		},
	}
	update.Flags().StringVar(&upEmail, "email", "", "new email address")
	update.Flags().StringVar(&upName, "name", "", "new full name")
	update.Flags().BoolVar(&upVerified, "verified", false, "whether the email address is verified (--verified=false to clear)")
	update.Flags().BoolVar(&upPassword, "password-stdin", false, "read a new password from standard input")

	// one makes a command that acts on one user and prints it.
	one := func(use, short string, fn func(b adminBackend, ctx context.Context, ref string) (admin.UserView, error)) *cobra.Command {
		return &cobra.Command{
			Use: use + " ID|EMAIL", Short: short, Args: cobra.ExactArgs(1),
			RunE: a.withAdmin(func(ctx context.Context, b adminBackend, args []string) error {
				u, err := fn(b, ctx, args[0])
				if err != nil {
					return err
				}
				return a.print(u, userTable(u))
			}),
		}
	}
	users.AddCommand(create, update,
		&cobra.Command{
			Use: "list", Short: "List users", Args: cobra.NoArgs,
			RunE: a.withAdmin(func(ctx context.Context, b adminBackend, _ []string) error {
				return a.printUsers(func(page func([]admin.UserView) error) error {
					return b.ListUsers(ctx, page)
				})
			}),
		},
		one("get", "Print one user", adminBackend.GetUser),
		one("disable", "Stop a user from signing in and end their sessions and tokens",
			func(b adminBackend, ctx context.Context, ref string) (admin.UserView, error) {
				return b.SetUserDisabled(ctx, ref, true)
			}),
		one("enable", "Let a disabled user sign in again",
			func(b adminBackend, ctx context.Context, ref string) (admin.UserView, error) {
				return b.SetUserDisabled(ctx, ref, false)
			}),
		one("sign-out", "End every session of a user and revoke their tokens", adminBackend.SignOutUser),
		one("delete", "Delete a user and print what was deleted", adminBackend.DeleteUser),
	)
	return users
}

// passwordInput reads a password from standard input. Locally it must pass
// the configured policy before anything is opened; remotely the server
// judges it.
func (a *app) passwordInput(cmd *cobra.Command, email, name string) (*string, error) {
	password, err := readPassword(a.stdin)
	if err != nil {
		return nil, err
	}
	if !a.remote() {
		cfg, err := a.loadConfig(cmd)
		if err != nil {
			return nil, err
		}
		if err := cfg.PasswordPolicy().Check(password, email, name); err != nil {
			return nil, usagef("password: %v", err)
		}
	}
	return &password, nil
}

// userTable is the --output table form of users.
func userTable(users ...admin.UserView) [][]string {
	rows := [][]string{{"ID", "EMAIL", "NAME", "VERIFIED", "DISABLED"}}
	for _, u := range users {
		rows = append(rows, []string{u.ID, u.Email, u.Name, strconv.FormatBool(u.EmailVerified), strconv.FormatBool(u.Disabled)})
	}
	return rows
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
