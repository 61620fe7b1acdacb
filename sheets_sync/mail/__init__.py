"""Mail: turn the morning digest into email messages, and hand them to a delivery.

`render` is pure (digest in, `EmailMessage` out); `outbox` writes messages to a folder;
`deliver` names the interface every delivery satisfies.
"""
