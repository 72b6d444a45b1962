// SPDX-License-Identifier: AGPL-3.0-or-later

package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lifeline-hotline/lifeline"
	"github.com/lifeline-hotline/lifeline/internal/channel"
	"github.com/lifeline-hotline/lifeline/internal/channel/telegram"
	"github.com/lifeline-hotline/lifeline/internal/channel/twilio"
	"github.com/lifeline-hotline/lifeline/internal/channel/whatsapp"
	"github.com/lifeline-hotline/lifeline/internal/keys"
	"github.com/lifeline-hotline/lifeline/internal/seal"
	"github.com/lifeline-hotline/lifeline/internal/sqlstore"
)

// channelConfig is a channel's configuration. Stored, it is split
// (sealChannel): what webhook verification needs while sealed under the
// intake key; the secrets only sending needs (the bot token, the WhatsApp
// access token) apart, under a routing data key of the channel's own, so
// that they open only while unsealed. A Telegram channel in polling mode
// keeps its bot token under the intake key: getUpdates, its intake, needs
// it while sealed. Twilio's auth token both signs webhooks and
// authenticates sends: webhook verification needs it while sealed, so it
// stays under the intake key.
type channelConfig struct {
	Kind   lifeline.ChannelKind `json:"kind"`
	Name   string               `json:"name"`
	APIURL string               `json:"api_url,omitempty"`

	BotToken      string `json:"bot_token,omitempty"`      // telegram
	WebhookSecret string `json:"webhook_secret,omitempty"` // telegram
	// Mode is how a Telegram channel gets its updates: "webhook" (or empty)
	// by webhook, "polling" with getUpdates (a site without public HTTPS).
	Mode string `json:"mode,omitempty"`

	PhoneNumberID string `json:"phone_number_id,omitempty"` // whatsapp
	AccessToken   string `json:"access_token,omitempty"`    // whatsapp
	AppSecret     string `json:"app_secret,omitempty"`      // whatsapp
	VerifyToken   string `json:"verify_token,omitempty"`    // whatsapp

	AccountSID string `json:"account_sid,omitempty"` // twilio
	AuthToken  string `json:"auth_token,omitempty"`  // twilio
	Number     string `json:"number,omitempty"`      // twilio
}

func channelAAD(kind lifeline.ChannelKind, name string) seal.AAD {
	return seal.AAD{Table: "channels", Column: "config", Row: string(kind) + "/" + name}
}

// adapter builds the channel's adapter. publicURL is the server's canonical
// external base (Twilio signs it).
func (c channelConfig) adapter(publicURL string, client *http.Client) (channel.Adapter, error) {
	switch c.Kind {
	case lifeline.ChannelTelegram:
		return telegram.New(telegram.Config{Name: c.Name, BotToken: c.BotToken, WebhookSecret: c.WebhookSecret, APIURL: c.APIURL}, client)
	case lifeline.ChannelWhatsApp:
		return whatsapp.New(whatsapp.Config{Name: c.Name, PhoneNumberID: c.PhoneNumberID, AccessToken: c.AccessToken,
			AppSecret: c.AppSecret, VerifyToken: c.VerifyToken, APIURL: c.APIURL}, client)
	case lifeline.ChannelSMS:
		if publicURL == "" {
			return nil, errors.New("an SMS channel needs the server's --public-url: Twilio signs it")
		}
		return twilio.NewSMS(twilio.Config{Name: c.Name, AccountSID: c.AccountSID, AuthToken: c.AuthToken, Number: c.Number,
			PublicURL: publicURL, APIURL: c.APIURL}, client)
	}
	return nil, fmt.Errorf("unknown channel kind %q", c.Kind)
}

// webhookPath is where the provider must send a channel's webhooks.
func webhookPath(kind lifeline.ChannelKind, name string) string {
	if kind == lifeline.ChannelSMS {
		return "/hooks/sms/" + name + "/sms"
	}
	return "/hooks/" + string(kind) + "/" + name
}

// loadChannels opens every stored channel into a registry. A channel that
// cannot be built is logged and left out; the others serve.
func loadChannels(ctx context.Context, db *sqlstore.DB, keeper *keys.Keeper, publicURL string, client *http.Client, logger *slog.Logger) (*channel.Registry, error) {
	stored, err := db.Channels(ctx)
	if err != nil {
		return nil, err
	}
	reg := channel.NewRegistry()
	for _, s := range stored {
		a, err := openChannel(keeper, s, publicURL, client)
		if err != nil {
			logger.Error("channel not loaded", "kind", string(s.Kind), "error", err.Error())
			continue
		}
		reg.Add(a)
	}
	return reg, nil
}

func openChannel(keeper *keys.Keeper, s sqlstore.StoredChannel, publicURL string, client *http.Client) (channel.Adapter, error) {
	c, err := openChannelConfig(keeper, s)
	if err != nil {
		return nil, err
	}
	return c.adapter(publicURL, client)
}

// sendSecrets are the secrets of a channel that only sending needs.
type sendSecrets struct {
	BotToken    string `json:"bot_token,omitempty"`
	AccessToken string `json:"access_token,omitempty"`
}

// Placeholders stand in for the send secrets while sealed: the adapter then
// verifies webhooks and cannot send (the outbox sends nothing while sealed
// anyway; an unseal reloads the channels with the real ones).
const (
	sealedBotToken    = "0:sealed"
	sealedAccessToken = "sealed"
)

// sealChannel splits c into what it stores: the intake part sealed under
// the intake key, the send secrets for the store to seal.
func sealChannel(keeper *keys.Keeper, c channelConfig) (sqlstore.StoredChannel, error) {
	ref := accountRef(keeper, c)
	send := sendSecrets{AccessToken: c.AccessToken}
	c.AccessToken = ""
	if c.Mode != modePolling {
		send.BotToken, c.BotToken = c.BotToken, ""
	}
	plain, err := json.Marshal(c)
	if err != nil {
		return sqlstore.StoredChannel{}, err
	}
	sealed, err := keeper.SealIntake(channelAAD(c.Kind, c.Name), plain)
	if err != nil {
		return sqlstore.StoredChannel{}, err
	}
	st := sqlstore.StoredChannel{Kind: c.Kind, Name: c.Name, Config: sealed, AccountRef: ref}
	if send != (sendSecrets{}) {
		if st.Send, err = json.Marshal(send); err != nil {
			return sqlstore.StoredChannel{}, err
		}
	}
	return st, nil
}

// accountRef is the intake key's HMAC of what the provider knows the
// channel by: a Telegram bot's id (the part of its token before the colon,
// the same for every token of one bot), a WhatsApp phone number id, a
// Twilio number. Two channels with one of these would split the account's
// messages between them; the store refuses the second. Nil without the
// intake key or the value.
func accountRef(keeper *keys.Keeper, c channelConfig) []byte {
	var v string
	switch c.Kind {
	case lifeline.ChannelTelegram:
		v, _, _ = strings.Cut(c.BotToken, ":")
	case lifeline.ChannelWhatsApp:
		v = c.PhoneNumberID
	case lifeline.ChannelSMS:
		v = c.Number
	}
	if v == "" {
		return nil
	}
	return keeper.IntakeRef("channel-account", string(c.Kind), v)
}

// channelMode is how a channel gets its messages: polling (a Telegram
// channel fetching with getUpdates) or webhook.
func (c channelConfig) mode() string {
	if c.Kind == lifeline.ChannelTelegram && c.Mode == modePolling {
		return modePolling
	}
	return modeWebhook
}

func openChannelConfig(keeper *keys.Keeper, s sqlstore.StoredChannel) (channelConfig, error) {
	plain, err := keeper.OpenIntake(channelAAD(s.Kind, s.Name), s.Config)
	if err != nil {
		return channelConfig{}, fmt.Errorf("channel %s/%s: configuration does not open: %w", s.Kind, s.Name, err)
	}
	var c channelConfig
	if err := json.Unmarshal(plain, &c); err != nil {
		return channelConfig{}, fmt.Errorf("channel %s/%s: configuration damaged", s.Kind, s.Name)
	}
	switch {
	case len(s.Send) > 0:
		var send sendSecrets
		if err := json.Unmarshal(s.Send, &send); err != nil {
			return channelConfig{}, fmt.Errorf("channel %s/%s: send secrets damaged", s.Kind, s.Name)
		}
		if send.BotToken != "" {
			c.BotToken = send.BotToken
		}
		if send.AccessToken != "" {
			c.AccessToken = send.AccessToken
		}
	case s.SendSealed:
		if c.Kind == lifeline.ChannelTelegram && c.BotToken == "" {
			c.BotToken = sealedBotToken
		}
		if c.Kind == lifeline.ChannelWhatsApp && c.AccessToken == "" {
			c.AccessToken = sealedAccessToken
		}
	}
	return c, nil
}

func runChannel(ctx context.Context, e env, args []string) error {
	return subcommand(ctx, e, "channel", args, map[string]func(context.Context, env, []string) error{
		"add": runChannelAdd, "list": runChannelList, "remove": runChannelRemove,
	}, "add|list|remove")
}

func runChannelAdd(ctx context.Context, e env, args []string) error {
	if len(args) == 0 || (args[0] != "telegram" && args[0] != "whatsapp" && args[0] != "twilio") {
		return usageErrorf("channel add: say which: telegram, whatsapp or twilio (see lifeline channel add telegram -h)")
	}
	provider := args[0]
	fs := newFlagSet(e, "channel add "+provider, "channel add "+provider+" --name NAME [provider flags] [--data DIR]")
	dataDir := dataDirFlag(fs)
	intakeKey := intakeKeyFlag(fs)
	c := channelConfig{}
	fs.StringVar(&c.Name, "name", "", "the channel's name, part of its webhook URL (a-z 0-9 - _)")
	fs.StringVar(&c.APIURL, "api-url", "", "the provider API's base URL (default: the provider's own)")
	publicURL := fs.String("public-url", "", "the server's external base URL; given, the webhook is registered with the provider (Telegram)")
	replace := fs.Bool("replace", false, "replace the configuration of an existing channel of this name (without it, an existing channel is refused)")
	switch provider {
	case "telegram":
		c.Kind = lifeline.ChannelTelegram
		fs.StringVar(&c.BotToken, "bot-token", "", "the bot's token from @BotFather")
		fs.StringVar(&c.WebhookSecret, "webhook-secret", "", "the secret_token Telegram echoes in X-Telegram-Bot-Api-Secret-Token (1-256 of A-Z a-z 0-9 _ -); generated if omitted with --mode polling")
		fs.StringVar(&c.Mode, "mode", modeWebhook, "how updates arrive: webhook (Telegram posts them; needs public HTTPS) or polling (the server fetches them with getUpdates)")
	case "whatsapp":
		c.Kind = lifeline.ChannelWhatsApp
		fs.StringVar(&c.PhoneNumberID, "phone-number-id", "", "Meta's id of the business phone number")
		fs.StringVar(&c.AccessToken, "access-token", "", "a Graph API system-user token")
		fs.StringVar(&c.AppSecret, "app-secret", "", "the Meta app's secret (signs webhooks)")
		fs.StringVar(&c.VerifyToken, "verify-token", "", "the verify token set in the App Dashboard")
	case "twilio":
		c.Kind = lifeline.ChannelSMS
		fs.StringVar(&c.AccountSID, "account-sid", "", "the Twilio account SID (AC…)")
		fs.StringVar(&c.AuthToken, "auth-token", "", "the account's auth token (signs webhooks)")
		fs.StringVar(&c.Number, "number", "", "the channel's phone number, E.164")
	}
	if err := fs.parseAll(args[1:]); err != nil {
		return err
	}
	if !sqlstore.ValidChannelName(c.Name) {
		return usageErrorf("channel add: --name is 1-32 of a-z 0-9 - _, starting with a letter")
	}
	polling := c.Mode == modePolling
	if c.Kind == lifeline.ChannelTelegram {
		if c.Mode != modeWebhook && !polling {
			return usageErrorf("channel add telegram: --mode is webhook or polling")
		}
		if polling && c.WebhookSecret == "" {
			// No webhook will carry it, but the adapter wants one: a random
			// secret nobody knows refuses any post to the webhook path.
			c.WebhookSecret = rand.Text()
		}
	}
	// Build the adapter now: it refuses missing or malformed secrets, so a
	// bad configuration never reaches the database.
	check := *publicURL
	if check == "" {
		check = "https://hotline.invalid"
	}
	a, err := c.adapter(check, http.DefaultClient)
	if err != nil {
		return usageErrorf("channel add %s: %v", provider, err)
	}
	if err := checkDataDir(*dataDir, false); err != nil {
		return err
	}
	keeper, err := openKeeper(e, *dataDir, *intakeKey)
	if err != nil {
		return err
	}
	defer keeper.Seal()
	st, err := sealChannel(keeper, c)
	if err != nil {
		return err
	}
	err = withAuditKeys(ctx, e, *dataDir, keeper, func(db *sqlstore.DB) error {
		err := db.SaveChannel(ctx, lifeline.CLIActor, st, *replace)
		if lifeline.ErrorCode(err) == lifeline.ECONFLICT {
			return usageErrorf("channel add %s: %s", provider, lifeline.ErrorMessage(err))
		}
		return err
	})
	if err != nil {
		return err
	}
	if polling {
		fmt.Fprintf(e.stdout, "Channel %s/%s saved. Polling: the server fetches its updates with getUpdates (and deletes any webhook).\n", c.Kind, c.Name)
	} else {
		fmt.Fprintf(e.stdout, "Channel %s/%s saved. Webhook path: %s\n", c.Kind, c.Name, webhookPath(c.Kind, c.Name))
	}
	if tg, ok := a.(*telegram.Adapter); ok && *publicURL != "" && !polling {
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := tg.SetWebhook(sctx, *publicURL+webhookPath(c.Kind, c.Name)); err != nil {
			return fmt.Errorf("channel saved, but Telegram's setWebhook failed: %w", err)
		}
		fmt.Fprintln(e.stdout, "Telegram webhook registered.")
	}
	notifyServer(e, *dataDir)
	return nil
}

// notifyServer asks a running server to reload its channels, so that a
// channel added or removed takes effect at once, and says what happened:
// reloaded, no server running (the next start loads them), or a server that
// did not reload (then a restart is needed).
func notifyServer(e env, dataDir string) {
	c, err := dialControl(dataDir)
	if err != nil {
		fmt.Fprintln(e.stdout, "No server is running on this data directory: the next lifeline serve loads the channels.")
		return
	}
	defer c.Close()
	if _, err := c.do(controlRequest{Op: "reload-channels"}); err != nil {
		fmt.Fprintf(e.stdout, "The running server did not reload its channels (%v): restart it for the change to take effect.\n", err)
		return
	}
	fmt.Fprintln(e.stdout, "The running server reloaded its channels: the change is in effect.")
}

func runChannelList(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "channel list", "channel list [--data DIR] [--intake-key FILE]")
	dataDir := dataDirFlag(fs)
	intakeKey := intakeKeyFlag(fs)
	if err := fs.parseAll(args); err != nil {
		return err
	}
	if err := checkDataDir(*dataDir, false); err != nil {
		return err
	}
	// The mode is in the configuration, sealed under the intake key:
	// without the key the list says so instead.
	keeper, kerr := openKeeper(e, *dataDir, *intakeKey)
	if kerr == nil {
		defer keeper.Seal()
	}
	db, err := openExisting(ctx, e, *dataDir)
	if err != nil {
		return err
	}
	defer db.Close()
	list, err := db.Channels(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tNAME\tMODE\tWEBHOOK PATH")
	for _, c := range list {
		mode, path := "? (no intake key)", webhookPath(c.Kind, c.Name)
		if kerr == nil {
			if cfg, err := openChannelConfig(keeper, c); err == nil {
				mode = cfg.mode()
			} else {
				mode = "? (does not open)"
			}
		}
		if mode == modePolling {
			path = "- (getUpdates)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Kind, c.Name, mode, path)
	}
	return tw.Flush()
}

func runChannelRemove(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "channel remove", "channel remove --kind KIND --name NAME [--data DIR]")
	dataDir := dataDirFlag(fs)
	kind := fs.String("kind", "", "telegram, whatsapp or sms")
	name := fs.String("name", "", "the channel's name")
	if err := fs.parseAll(args); err != nil {
		return err
	}
	if !lifeline.ChannelKind(*kind).Valid() || *name == "" {
		return usageErrorf("channel remove: --kind and --name are required")
	}
	err := withAudit(ctx, e, *dataDir, func(db *sqlstore.DB) error {
		return db.RemoveChannel(ctx, lifeline.CLIActor, lifeline.ChannelKind(*kind), *name)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Channel %s/%s removed.\n", *kind, *name)
	notifyServer(e, *dataDir)
	return nil
}
