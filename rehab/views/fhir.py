"""The FHIR API: thin views over rehab/services/fhir. A bearer token of an API client (admin page
/admin/api-clients) names the clinic; the browser's session is never used here. ``/fhir/metadata`` is
public, as FHIR servers' CapabilityStatement is. Every answer is ``application/fhir+json``; every error is
an OperationOutcome naming the field; every use of a token is audited."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

from fhir.resources.R4B.resource import Resource
from flask import Blueprint, Response, current_app, g, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from rehab import db
from rehab.errors import area_error_page
from rehab.models import Clinic, Patient, utcnow
from rehab.security import audit_key, csrf
from rehab.services import api_clients, audit, submissions
from rehab.services import patients as patient_service
from rehab.services.catalogue import exercises, templates
from rehab.services.fhir import care, common, everything, importing, patients
from rehab.services.fhir.capability import capability_statement

bp = Blueprint("fhir", __name__, url_prefix="/fhir")
csrf.exempt(bp)  # no cookie is read here: a bearer token cannot be sent by another site's form

PUBLIC = frozenset({"fhir.metadata"})


class FhirError(Exception):
    def __init__(self, status: int, code: str, message: str, expression: str | None = None,
                 issues: list[importing.Issue] | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.issues = issues or [(code, message, expression)]
        self.headers = headers or {}


def fhir_response(resource: Resource | dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
                  ) -> Response:
    body = resource if isinstance(resource, dict) else common.as_json(resource)
    return Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=common.FHIR_JSON,
                    headers=headers)


@bp.errorhandler(FhirError)
def _fhir_error(error: FhirError) -> ResponseReturnValue:
    headers = {**error.headers, **({"WWW-Authenticate": 'Bearer realm="rehab FHIR"'} if error.status == 401 else {})}
    return fhir_response(common.outcome(error.issues), error.status, headers)


def _error_outcome(error: Exception, error_id: str | None) -> ResponseReturnValue:
    """Every other error here, routing ones too (an unknown resource type, a wrong method), as an
    OperationOutcome: a FHIR client reads JSON, never the clinic's HTML error page."""
    code = error.code if isinstance(error, HTTPException) and error.code else 500
    if code == 404:
        issue = ("not-found", "No such resource in this clinic.")
    elif code == 405:
        issue = ("not-supported", f"{request.method} is not supported here.")
    elif code == 413:
        issue = ("too-costly", "The request is too large.")
    elif code < 500:
        issue = ("invalid", "The request could not be read.")
    else:
        issue = ("exception", f"Something went wrong on the server; quote error id {error_id} to the clinic.")
    return fhir_response(common.outcome([(*issue, None)]), code)


area_error_page(bp, _error_outcome)


def context() -> common.Context:
    return common.Context(base_url=request.host_url.rstrip("/") + (bp.url_prefix or ""),
                          identifier_system=current_app.config["FHIR_IDENTIFIER_SYSTEM"])


# ------------------------------------------------------------------------------------------ the token guard


@bp.before_request
def _require_token() -> None:
    """Every route but /fhir/metadata needs a live client's bearer token; read scope cannot write."""
    g.api_client = None
    if request.endpoint in PUBLIC:
        return
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise FhirError(401, "login", "Send the API client's token as: Authorization: Bearer <token>.")
    address = (request.remote_addr or "unknown")[:64]
    now = utcnow()
    window = timedelta(minutes=current_app.config["LOGIN_THROTTLE_WINDOW_MINUTES"])
    if api_clients.bad_token_count(db.get_session(), address=address, since=now - window) >= \
            current_app.config["FHIR_MAX_BAD_TOKENS_PER_ADDRESS"]:
        raise FhirError(429, "throttled", "Too many wrong tokens from this address; try again later.",
                        headers={"Retry-After": str(int(window.total_seconds()))})
    client, reason = api_clients.find_client(db.get_session(), token.strip())
    if client is None or reason != "ok":
        if client is not None:
            _audit("fhir.denied", client_id=client.id, clinic_id=client.clinic_id, outcome="denied")
        else:
            def _count_bad_token() -> None:
                with db.side_transaction() as writer:
                    api_clients.record_bad_token(writer, address=address, now=now)

            db.after_close(_count_bad_token)
        raise FhirError(401, "login", "This token is not valid (unknown or revoked). Ask the clinic's admin "
                                      "for a new API client.")
    g.api_client = client
    g.clinic = db.get_session().get(Clinic, client.clinic_id)
    if request.method not in db.SAFE_METHODS and client.scope != "read-write":
        _audit("fhir.denied", patient_id=None, outcome="denied")
        raise FhirError(403, "forbidden", "This API client may only read. Ask an admin for a read-write client.")


def _audit(action: str, *, patient_id: int | None = None, outcome: str = "ok", client_id: int | None = None,
           clinic_id: int | None = None) -> None:
    """Audit one use of a token after the request's transaction is closed (a rollback never loses it)."""
    client = g.get("api_client")
    client_id = client_id if client_id is not None else (client.id if client else None)
    clinic_id = clinic_id if clinic_id is not None else (client.clinic_id if client else None)
    key = audit_key()

    def _write() -> None:
        with db.side_transaction() as writer:
            audit.record_event(writer, key=key, action=action, clinic_id=clinic_id, patient_id=patient_id,
                               object_type="api_client", object_id=client_id, outcome=outcome)

    db.after_close(_write)


def _patient_or_404(patient_id: str) -> Patient:
    """The patient if it belongs to the token's clinic; any other (or a malformed id) is not found."""
    patient = None
    if patient_id.isdigit():
        patient = patient_service.get_patient(db.get_session(), clinic_id=g.api_client.clinic_id,
                                              patient_id=int(patient_id))
    if patient is None:
        _audit("fhir.denied", outcome="denied")
        raise FhirError(404, "not-found", f"Patient/{patient_id} is not a patient of this clinic.")
    return patient


def _paging() -> tuple[int, int]:
    try:
        count = int(request.args.get("_count", common.DEFAULT_COUNT))
        offset = int(request.args.get("_offset", 0))
    except ValueError:
        raise FhirError(400, "value", "_count and _offset are whole numbers.", "_count") from None
    if not 0 <= count <= common.MAX_COUNT or offset < 0:
        raise FhirError(400, "value", f"_count is 0 to {common.MAX_COUNT}; _offset is 0 or more.", "_count")
    return count, offset


def _search_params(*names: str) -> list[tuple[str, str]]:
    unknown = sorted({name for name in request.args if name not in names and name not in ("_count", "_offset")})
    if unknown:
        raise FhirError(400, "not-supported", f"This server does not search by {', '.join(unknown)}.", unknown[0])
    return [(name, value) for name in names for value in request.args.getlist(name)]


# ----------------------------------------------------------------------------------------------- the routes


@bp.get("/metadata")
def metadata() -> ResponseReturnValue:
    return fhir_response(capability_statement(context(), now=utcnow()))


@bp.get("/CodeSystem/<resource_id>")
def code_system(resource_id: str) -> ResponseReturnValue:
    if resource_id != "rehab":
        raise FhirError(404, "not-found", f"CodeSystem/{resource_id} is not defined here; see CodeSystem/rehab.")
    _audit("fhir.read")
    return fhir_response(common.code_system())


def _definition(kind: str, resource_id: str, known: dict[str, Any], build: Any, where: str) -> Response:
    """A built-in template or catalogue exercise by its FHIR id ("post-tka" is the key "post_tka")."""
    key = resource_id.replace("-", "_")
    if key not in known:
        raise FhirError(404, "not-found", f"{kind}/{resource_id} is not {where}.")
    _audit("fhir.read")
    return fhir_response(build(context(), key))


@bp.get("/PlanDefinition/<resource_id>")
def plan_definition(resource_id: str) -> ResponseReturnValue:
    return _definition("PlanDefinition", resource_id, templates(), care.plan_definition, "a built-in template")


@bp.get("/ActivityDefinition/<resource_id>")
def activity_definition(resource_id: str) -> ResponseReturnValue:
    return _definition("ActivityDefinition", resource_id, exercises(), care.activity_definition,
                       "in the exercise catalogue")


@bp.get("/Patient")
def search_patients() -> ResponseReturnValue:
    params = _search_params("identifier")
    count, offset = _paging()
    identifiers = request.args.getlist("identifier")
    try:
        page = everything.search_patients(db.get_session(), context(), clinic_id=g.api_client.clinic_id,
                                          identifier=identifiers[0] if identifiers else None, offset=offset,
                                          count=count)
    except everything.SearchError as error:
        raise FhirError(400, "value", str(error), error.parameter) from None
    _audit("fhir.search")
    resources = [patients.patient_resource(context(), patient) for patient in page.items]
    return fhir_response(common.searchset(context(), path="Patient", params=params, resources=resources,
                                          total=page.total, offset=offset, count=count, now=utcnow()))


@bp.get("/Patient/<patient_id>")
def read_patient(patient_id: str) -> ResponseReturnValue:
    patient = _patient_or_404(patient_id)
    _audit("fhir.read", patient_id=patient.id)
    return fhir_response(patients.patient_resource(context(), patient))


@bp.get("/Patient/<patient_id>/$everything")
def patient_everything(patient_id: str) -> ResponseReturnValue:
    """The patient's whole record, with the home sheets and the progress report as PDFs, paged."""
    from rehab.views.fhir_bundle import pdf_renderers

    patient = _patient_or_404(patient_id)
    count, offset = _paging()
    render_sheet, render_report = pdf_renderers(therapist_name=g.api_client.name)
    resources = everything.patient_resources(db.get_session(), context(), patient, g.clinic,
                                             render_sheet=render_sheet, render_report=render_report, now=utcnow())
    _audit("fhir.everything", patient_id=patient.id)
    return fhir_response(common.searchset(context(), path=f"Patient/{patient.id}/$everything", params=[],
                                          resources=resources[offset:offset + count], total=len(resources),
                                          offset=offset, count=count, now=utcnow()))


@bp.get("/Observation")
def search_observations() -> ResponseReturnValue:
    params = _search_params("patient", "code", "date")
    count, offset = _paging()
    wanted = request.args.getlist("patient")
    if len(wanted) != 1:
        raise FhirError(400, "required", "Search Observations of one patient: patient=Patient/{id} or patient={id}.",
                        "patient")
    patient = _patient_or_404(wanted[0].removeprefix("Patient/"))
    resources = everything.observation_resources(db.get_session(), context(), patient, g.clinic, now=utcnow())
    try:
        found = everything.filter_observations(resources, codes=request.args.getlist("code"),
                                               dates=request.args.getlist("date"))
    except everything.SearchError as error:
        raise FhirError(400, "value", str(error), error.parameter) from None
    _audit("fhir.search", patient_id=patient.id)
    return fhir_response(common.searchset(context(), path="Observation", params=params,
                                          resources=found[offset:offset + count], total=len(found), offset=offset,
                                          count=count, now=utcnow()))


@bp.post("/Patient")
def create_patient() -> ResponseReturnValue:
    """A new patient from a Patient with its Condition (a transaction Bundle); nothing is saved on an error."""
    body = request.get_json(silent=True) if request.is_json else None
    if body is None:
        raise FhirError(415 if not request.is_json else 400, "structure",
                        "Send the resource as JSON with Content-Type: application/fhir+json.")
    session = db.get_session()
    clinic_id = g.api_client.clinic_id
    try:
        form = importing.patient_form(context(), body, clinic_id=clinic_id)
    except importing.ImportRefused as refused:
        _audit("fhir.create", outcome="failed")
        raise FhirError(refused.status, "invalid", str(refused), issues=refused.issues) from None
    # A request sent again (a client's retry after a lost answer) is the same request: the same body from the
    # same client on the same day. The first one's patient is answered (200), as FHIR's conditional create does.
    body_hash = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    key = f"fhir-{g.api_client.id}-{utcnow().date():%Y%m%d}-{body_hash[:40]}"
    try:
        claimed = submissions.claim(session, form_id=key, action="fhir.create", clinic_id=clinic_id, user_id=None,
                                    patient_id=None, now=utcnow())
    except submissions.AlreadySubmitted as repeat:
        earlier = session.get(Patient, int(repeat.earlier.result)) if repeat.earlier.result.isdigit() else None
        if earlier is None or earlier.clinic_id != clinic_id:
            raise FhirError(409, "duplicate", "This request was already received; search Patient to find "
                            "what it created.") from None
        return fhir_response(patients.patient_resource(context(), earlier), 200,
                             {"Location": context().url("Patient", str(earlier.id))})
    taken = FhirError(422, "duplicate", f"A patient with chart number {form.chart_number} already exists in this "
                      "clinic; search Patient?identifier= to find it.", "Patient.identifier")
    if patient_service.chart_number_taken(session, clinic_id=clinic_id, chart_number=form.chart_number):
        _audit("fhir.create", outcome="failed")
        raise taken  # the request rolls back, its claim too: the same body may be sent once the clash is fixed
    try:
        patient = patient_service.create_patient(session, clinic_id=clinic_id, form=form, user_id=None, now=utcnow())
    except patient_service.ChartNumberTaken:
        _audit("fhir.create", outcome="failed")
        raise taken from None
    claimed.result = str(patient.id)
    audit.record_event(session, key=audit_key(), action="fhir.create", clinic_id=clinic_id, patient_id=patient.id,
                       object_type="api_client", object_id=g.api_client.id)
    resource = patients.patient_resource(context(), patient)
    return fhir_response(resource, 201, {"Location": context().url("Patient", str(patient.id))})

