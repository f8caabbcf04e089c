package discovery

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
)

// Publisher timing.
const (
	// RepublishInterval refreshes our record well before it expires.
	RepublishInterval = 30 * time.Minute
	// addrSettle debounces republishing after our addresses change.
	addrSettle = 2 * time.Second
	// publishRetryMin is the first wait before retrying a failed publish;
	// it doubles up to RepublishInterval.
	publishRetryMin = 30 * time.Second
	// publishTimeout bounds one publication.
	publishTimeout = time.Minute
)

// PublisherConfig wires a Publisher. Service, Host and Record are required.
type PublisherConfig struct {
	Service *Service
	// Host's event bus tells when our addresses change.
	Host host.Host
	// Bootstrap, if set, joins the DHT before the first publication.
	Bootstrap func(ctx context.Context) error
	// Record builds and signs our current identity record.
	Record func() ([]byte, error)
	// Published is told after each successful publication (an event).
	Published func()
	Logger    *slog.Logger
}

// Publisher keeps this node's identity record published: at start (after
// bootstrapping), every RepublishInterval, soon after our addresses change,
// on request, and again with a growing delay after a failure.
type Publisher struct {
	cfg  PublisherConfig
	log  *slog.Logger
	soon chan struct{}

	mu   sync.Mutex
	last time.Time
	err  string

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewPublisher returns a publisher; Start runs it.
func NewPublisher(cfg PublisherConfig) *Publisher {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Publisher{cfg: cfg, log: cfg.Logger, soon: make(chan struct{}, 1)}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	return p
}

// Start runs the publishing loop in the background.
func (p *Publisher) Start() {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.loop()
	}()
}

// Close stops the loop and waits for it.
func (p *Publisher) Close() {
	p.cancel()
	p.wg.Wait()
}

// Soon asks the loop to publish now (our devices changed, say).
func (p *Publisher) Soon() {
	select {
	case p.soon <- struct{}{}:
	default:
	}
}

// Status is when our record was last published and the last error ("" if
// the last try worked).
func (p *Publisher) Status() (time.Time, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last, p.err
}

// Publish builds, signs and publishes our record now and reports the
// error, if any.
func (p *Publisher) Publish(ctx context.Context) error {
	raw, err := p.cfg.Record()
	if err == nil {
		pctx, cancel := context.WithTimeout(ctx, publishTimeout)
		_, err = p.cfg.Service.Publish(pctx, raw)
		cancel()
	}
	p.mu.Lock()
	if err != nil {
		p.err = err.Error()
	} else {
		p.last, p.err = time.Now(), ""
	}
	p.mu.Unlock()
	if err != nil && ctx.Err() == nil {
		p.log.Warn("publish identity record", "err", err)
	} else if err == nil && p.cfg.Published != nil {
		p.cfg.Published()
	}
	return err
}

func (p *Publisher) loop() {
	ctx := p.ctx
	if p.cfg.Bootstrap != nil {
		bctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		if err := p.cfg.Bootstrap(bctx); err != nil {
			p.log.Warn("DHT bootstrap", "err", err)
		}
		cancel()
	}
	sub, err := p.cfg.Host.EventBus().Subscribe(new(event.EvtLocalAddressesUpdated))
	if err != nil {
		p.log.Error("subscribe to address changes", "err", err)
		return
	}
	defer sub.Close()
	tick := time.NewTicker(RepublishInterval)
	defer tick.Stop()
	var settle, retry <-chan time.Time
	backoff := publishRetryMin
	publish := func() {
		if p.Publish(ctx) == nil {
			retry, backoff = nil, publishRetryMin
			return
		}
		// Nobody took the record (no peers yet, say): try again soon,
		// then less and less often, instead of waiting for the next
		// republish.
		retry = time.After(backoff)
		backoff = min(2*backoff, RepublishInterval)
	}
	publish()
	for {
		select {
		case <-ctx.Done():
			return
		case <-sub.Out():
			settle = time.After(addrSettle)
		case <-settle:
			settle = nil
			publish()
		case <-retry:
			publish()
		case <-p.soon:
			publish()
		case <-tick.C:
			publish()
		}
	}
}
