// Package access decides whether an S3 request may proceed: it evaluates
// bucket policies, access control lists and ownership the way S3 does, for
// one request at a time. It is pure: it takes values (the caller, the
// action, the bucket's owner, ACL, ownership setting and policy, the
// object's owner and ACL, and the condition context) and returns a
// Decision. It does no I/O and reads no clock; the gateway supplies
// aws:CurrentTime in the context.
//
// Evaluation order (Evaluate):
//
//  1. The root identity is an administrator and is allowed everything.
//  2. An explicit Deny of a matching bucket-policy statement refuses the
//     request, with one exception: the bucket owner may always read, change
//     and delete the bucket policy (as the owning account's root user can
//     in S3), so a policy cannot lock its owner out.
//  3. An Allow of a matching statement permits it.
//  4. Ownership: the bucket owner may do anything on the bucket and
//     PutObject/DeleteObject in it; an object's owner may do anything on
//     the object. With ObjectOwnership BucketOwnerEnforced, the bucket owner
//     owns every object in it.
//  5. Unless ObjectOwnership is BucketOwnerEnforced (ACLs disabled), an ACL
//     grant permits the actions S3 maps to it: READ on a bucket permits
//     listing, WRITE permits PutObject and DeleteObject, READ on an object
//     permits GetObject, READ_ACP and WRITE_ACP permit reading and writing
//     the ACL, FULL_CONTROL all of them.
//  6. Anything else is refused (an implicit deny).
//
// Policy principals accepted: "*" and {"AWS": "*"} (everyone, including
// anonymous callers); {"AWS": X} and {"CanonicalUser": X} where X is a
// canonical user ID, an access key, "arn:aws:iam::<any>:user/<name>"
// (matched by display name) or "arn:aws:iam::<canonical ID>:root".
//
// Imports: proto/metapb only.
package access
