package chaos

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestNetnsNames checks the script's naming, which needs neither root nor
// iproute2: addresses, namespaces and veths derive from the prefix and
// subnet, and bad settings are refused.
func TestNetnsNames(t *testing.T) {
	script, err := FindScript()
	require.NoError(t, err)
	ctx := context.Background()
	n, err := NewNetns(ctx, script, "ctest", "10.99.7")
	require.NoError(t, err)
	require.Equal(t, "ctestbr0", n.Bridge())
	addr, err := n.Addr(ctx, 3)
	require.NoError(t, err)
	require.Equal(t, "10.99.7.13", addr)
	veth, err := n.Veth(ctx, 11)
	require.NoError(t, err)
	require.Equal(t, "ctestv11", veth)
	_, err = n.Addr(ctx, 0)
	require.Error(t, err, "hosts are numbered from 1")

	_, err = NewNetns(ctx, script, "Bad-Prefix", "")
	require.Error(t, err)
	_, err = NewNetns(ctx, script, "", "10.99")
	require.Error(t, err)
}

func TestConfigValidate(t *testing.T) {
	require.Error(t, (&Config{Dir: "d", Episodes: 1}).Validate(), "no binary")
	require.Error(t, (&Config{Binary: "b", Episodes: 1}).Validate(), "no dir")
	require.Error(t, (&Config{Binary: "b", Dir: "d"}).Validate(), "neither episodes nor duration")
	require.NoError(t, (&Config{Binary: "b", Dir: "d", Duration: 1}).Validate())
}
