package localdb_test

import (
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/internal/localdb"
)

func startNATS(t *testing.T, opts localdb.NATSOptions) *localdb.NATS {
	t.Helper()
	skipShort(t)
	opts.Logger = testLogger(t)
	srv, err := localdb.StartNATS(testContext(t), opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	return srv
}

func TestNATS(t *testing.T) {
	t.Parallel()
	srv := startNATS(t, localdb.DefaultNATSOptions())
	ctx := testContext(t)

	t.Run("JetStream keeps a stream across a restart", func(t *testing.T) {
		nc, err := nats.Connect(srv.URL())
		require.NoError(t, err)
		js, err := jetstream.New(nc)
		require.NoError(t, err)
		_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}})
		require.NoError(t, err)
		_, err = js.Publish(ctx, "t.one", []byte("hello"))
		require.NoError(t, err)
		nc.Close()

		port, pid := srv.Port(), srv.PID()
		require.NoError(t, srv.Stop(ctx))
		require.Zero(t, srv.PID())
		requireExited(t, pid)
		require.NoError(t, srv.Start(ctx))
		require.NoError(t, srv.Start(ctx), "starting a running server")
		require.Equal(t, port, srv.Port())

		nc, err = nats.Connect(srv.URL())
		require.NoError(t, err)
		defer nc.Close()
		js, err = jetstream.New(nc)
		require.NoError(t, err)
		s, err := js.Stream(ctx, "T")
		require.NoError(t, err)
		info, err := s.Info(ctx)
		require.NoError(t, err)
		require.Equal(t, uint64(1), info.State.Msgs)
	})

	t.Run("start fails while another program holds the port", func(t *testing.T) {
		require.NoError(t, srv.Stop(ctx))
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(srv.Port()))
		require.NoError(t, err)
		err = srv.Start(ctx)
		require.NoError(t, l.Close())
		t.Log(err)
		require.ErrorContains(t, err, "exited during start-up")
		require.ErrorContains(t, err, "in use", "the error quotes the server log")
		require.NoError(t, srv.Start(ctx))
	})

	t.Run("close", func(t *testing.T) {
		pid, dir, port := srv.PID(), srv.Dir(), srv.Port()
		require.NoError(t, srv.Close())
		requireGone(t, pid, dir, port)
		require.Zero(t, srv.PID())
		require.NoError(t, srv.Close(), "closing twice")
		require.ErrorIs(t, srv.Start(ctx), localdb.ErrClosed)
	})
}

func TestNATSWithoutJetStream(t *testing.T) {
	t.Parallel()
	srv := startNATS(t, localdb.NATSOptions{})
	nc, err := nats.Connect(srv.URL(), nats.Timeout(5*time.Second))
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	_, err = js.AccountInfo(testContext(t))
	require.ErrorIs(t, err, jetstream.ErrJetStreamNotEnabled)
}
