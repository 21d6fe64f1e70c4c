package control_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

func TestScratchTrustedTypes(t *testing.T) {
	rig := startDashboardRig(t)
	pg := browser(t)
	do(t, pg.ctx, "open", chromedp.Navigate(rig.admin+"/"), chromedp.WaitVisible(chromedp.ID("login-token")))
	do(t, pg.ctx, "inject", chromedp.Evaluate[chromedp.Void](`setTimeout(() => { document.body.insertAdjacentHTML('beforeend', '<b>x</b>') }, 0); const s = document.createElement('script'); s.textContent = 'window.x = 1'; setTimeout(() => document.body.append(s), 0); 1`))
	require.Eventually(t, func() bool { return len(pg.errors()) >= 2 }, 5*time.Second, 50*time.Millisecond)
	t.Log(pg.errors())
	t.Log(eval[bool](t, pg.ctx, "x", `window.x === 1`))
}
