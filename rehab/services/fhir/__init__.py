"""FHIR R4: a patient's care as standard resources, out (export) and in (import).

Every resource is built as a plain dict and validated by ``fhir.resources``' R4B models before it leaves
(``common.validated``); only elements that R4 and R4B share are used, so an R4 server reads them too (see
docs/fhir.md). One module per group of resources; no Flask here: the views and the CLI pass in what the
resources need (the server's base URL, rendered PDFs).
"""
