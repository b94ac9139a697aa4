"""SCIM 2.0, the server side of user provisioning: resources and schema (RFC 7643,
https://www.rfc-editor.org/rfc/rfc7643) and protocol — filters, PATCH, errors, paging (RFC 7644,
https://www.rfc-editor.org/rfc/rfc7644). Framework-free: JSON in, JSON out."""
