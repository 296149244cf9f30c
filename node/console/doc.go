// Package console is Cairn's web console: a small HTTP handler, served by
// the gateway process on a listener of its own, with pages for the cluster
// overview, buckets, an object browser and users.
//
// A user signs in with S3 credentials (root or a user). The secret never
// goes back to the browser: the console keeps it in a server-side session
// named by a random token in an HttpOnly, SameSite=Strict cookie, and
// every state-changing call must also carry the session's CSRF token in a
// header. Each bucket and object action is an S3 request signed (SigV4)
// with the signed-in user's credentials and handed to the gateway's own S3
// handler, so the gateway's authorization decides what the user may see
// and do, exactly as for any other S3 client. The cluster overview and
// user management go to the meta group (status, cluster map, heal status,
// user commands) and are served to the root identity only.
//
// Imports: the AWS SDK's SigV4 signer, proto/metapb and node/identity
// (sealing new users' secrets); never node/gateway, node/meta or
// node/storage: the S3 handler and the meta client come in as interfaces.
//
// Lock order: Console.sessions.mu is a leaf.
package console
