"""The open gateway: capability methods that unmodified Alipay SDKs call (`/gateway.do`), apps
and their keys, capability packages. Domains above it open their capabilities by listing
`Method`s (`gateway.methods`) that the application factory collects."""
