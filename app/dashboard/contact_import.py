"""Importing contacts from CSV (admins and marketers): upload a file, map its columns with a live
preview, start the import, watch its progress, download the rejected rows.

The import page's state (mapping, progress, result) is one fragment served from the import's URL,
so the progress bar is that fragment polling itself until the import is done.
"""
from __future__ import annotations

import io
from pathlib import PurePath, PureWindowsPath

from flask import abort, flash, redirect, request, send_file, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import RadioField, SelectChoice, SelectField

from app.dashboard import dashboard
from app.dashboard.access import role_required
from app.dashboard.errors import error_page
from app.dashboard.pages import is_htmx, owned_or_404, render, show_error
from app.extensions import login_manager
from app.models import ContactImport
from app.services import contact_import as imports
from app.services import groups
from app.services.csv_files import DELIMITER_NAMES
from app.services.errors import ServiceError
from app.services.import_rows import FIELD_LABELS, FIELDS

IMPORTERS = ("admin", "marketer")
FORM_OVERHEAD = 64 * 1024  # multipart boundaries, the CSRF token, the file name
NOT_IMPORTED = SelectChoice("", "— not imported —")
DEDUPE_CHOICES = [SelectChoice("skip", "Skip them: keep their details as they are"),
                  SelectChoice("update", "Update them with the values in the file (blank cells change nothing)")]


class UploadForm(FlaskForm):
    file = FileField("CSV file", validators=[FileRequired("Choose a CSV file to import.")],
                     render_kw={"accept": ".csv,.txt,.tsv,text/csv,text/plain"})


class MappingForm(FlaskForm):
    phone_number = SelectField(FIELD_LABELS["phone_number"])
    name = SelectField(FIELD_LABELS["name"])
    first_name = SelectField(FIELD_LABELS["first_name"])
    last_name = SelectField(FIELD_LABELS["last_name"])
    company_name = SelectField(FIELD_LABELS["company_name"])
    email = SelectField(FIELD_LABELS["email"])
    tags = SelectField(FIELD_LABELS["tags"])
    notes = SelectField(FIELD_LABELS["notes"])
    dedupe = RadioField("Numbers already in your contacts", choices=DEDUPE_CHOICES, default="skip")
    group_id = SelectField("Add every contact in the file to a group")


@dashboard.app_template_filter("thousands")
def thousands(value) -> str:
    return f"{value or 0:,}"


@dashboard.app_template_filter("filesize")
def filesize(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB" if size >= 1024 * 1024 else f"{max(1, round(size / 1024))} KB"


# -- upload --------------------------------------------------------------------------------------

@dashboard.get("/contacts/import")
@role_required(*IMPORTERS)
def contact_imports():
    return _upload_page(UploadForm())


def _upload_page(form: UploadForm, http_status: int = 200):
    return render("contact_import/index.html", "contact_import/_list.html", http_status=http_status, form=form,
                  imports=imports.recent_imports(current_user.account), max_mb=imports.max_bytes() // (1024 * 1024))


@dashboard.url_value_preprocessor
def _allow_the_file(endpoint: str | None, _values) -> None:
    """The app's body limit (MAX_BODY_BYTES) fits API calls and forms, not files: raise it for the
    upload. URL value preprocessors run before every ``before_request`` hook, and those hooks (CSRF,
    the text check) read the form, so this is the one place early enough."""
    if endpoint == "dashboard.upload_contact_import":
        request.max_content_length = imports.max_bytes() + FORM_OVERHEAD


@dashboard.errorhandler(RequestEntityTooLarge)
def _too_large(exc: RequestEntityTooLarge):
    """A file over the limit: the upload page says so. (Elsewhere the refusal stays as it was.)"""
    if request.endpoint != "dashboard.upload_contact_import":
        return exc
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if current_user.role not in IMPORTERS:
        return error_page(403)
    form = UploadForm(formdata=None, meta={"csrf": False})
    form.file.errors = [imports.too_large_message(request.content_length)]
    return _upload_page(form, 413)


@dashboard.post("/contacts/import")
@role_required(*IMPORTERS)
def upload_contact_import():
    form = UploadForm()
    if form.validate_on_submit():
        upload = form.file.data
        try:
            # Only the name: some browsers send the whole path, with either kind of slash.
            imp = imports.upload(current_user.account, current_user.id, PureWindowsPath(upload.filename or "").name,
                                 upload.read(imports.max_bytes() + 1))
        except ServiceError as exc:
            show_error(form, exc, "file")
        else:
            return _see(url_for("dashboard.contact_import", import_id=imp.id))
    return _upload_page(form, 422)


def _see(url: str):
    """After a POST: a redirect for the browser; for htmx the same, said in its own header."""
    if is_htmx():
        return "", 204, {"HX-Location": url}
    return redirect(url, 303)


# -- one import: map, preview, start, watch ------------------------------------------------------

@dashboard.get("/contacts/import/<import_id>")
@role_required(*IMPORTERS)
def contact_import(import_id: str):
    """The import in its current state. Mapping choices in the query string redraw the preview
    (the mapping form asks for exactly that with htmx whenever a choice changes)."""
    imp = owned_or_404(ContactImport, import_id)
    imports.check_stalled(imp)
    form = _mapping_form(imp, request.args if "phone_number" in request.args else None) if imp.can_start else None
    return _state(imp, form)


@dashboard.post("/contacts/import/<import_id>/start")
@role_required(*IMPORTERS)
def start_contact_import(import_id: str):
    imp = owned_or_404(ContactImport, import_id)
    if not imp.can_start:
        flash(f"This import is {imp.status} already.", "info")
        return _see(url_for("dashboard.contact_import", import_id=imp.id))
    form = _mapping_form(imp)
    if form.validate_on_submit():
        try:
            queued = imports.start(current_user.account, imp, _chosen(form), form.dedupe.data,
                                   form.group_id.data or None)
        except ServiceError as exc:
            show_error(form, exc, _field_of(exc))
        else:
            if not queued:
                flash("The import is saved, but the job queue cannot be reached right now; "
                      "use “Queue it again” in a moment.", "error")
            if not is_htmx():
                return redirect(url_for("dashboard.contact_import", import_id=imp.id), 303)
            return _state(imp, None)
    return _state(imp, form, http_status=422)


@dashboard.post("/contacts/import/<import_id>/requeue")
@role_required(*IMPORTERS)
def requeue_contact_import(import_id: str):
    imp = owned_or_404(ContactImport, import_id)
    if not imports.requeue(imp) and imp.status == ContactImport.MAPPED:
        flash("The job queue cannot be reached right now. Try again in a moment.", "error")
    return _see(url_for("dashboard.contact_import", import_id=imp.id))


@dashboard.post("/contacts/import/<import_id>/delete")
@role_required(*IMPORTERS)
def delete_contact_import(import_id: str):
    imp = owned_or_404(ContactImport, import_id)
    name = imp.filename
    try:
        imports.discard(current_user.account, imp)
    except ServiceError as exc:
        flash(exc.message, "error")
        return _see(url_for("dashboard.contact_import", import_id=imp.id))
    flash(f"Deleted the import of {name}.", "success")
    return _see(url_for("dashboard.contact_imports"))


@dashboard.get("/contacts/import/<import_id>/rejected.csv")
@role_required(*IMPORTERS)
def contact_import_report(import_id: str):
    imp = owned_or_404(ContactImport, import_id)
    if not imp.report:
        abort(404)
    stem = PurePath(imp.filename).stem or "contacts"
    return send_file(io.BytesIO(imp.report.encode()), mimetype="text/csv", as_attachment=True,
                     download_name=f"{stem}-rejected-rows.csv", max_age=0)


def _state(imp: ContactImport, form: MappingForm | None, http_status: int = 200):
    context = {"imp": imp, "form": form, "fields": FIELDS, "delimiter_names": DELIMITER_NAMES, "preview": None,
               "progress": imports.progress(imp) if imp.is_active else None,
               "waiting_too_long": imports.waiting_too_long(imp)}
    if form is not None:
        mapping = imports.usable_mapping(imp, _chosen(form))
        if "phone_number" in mapping:
            context["preview"] = imports.preview(current_user.account, imp, mapping, form.dedupe.data or "skip")
    return render("contact_import/show.html", "contact_import/_state.html", http_status=http_status, **context)


def _mapping_form(imp: ContactImport, formdata=None) -> MappingForm:
    """The mapping form: choices from the file's columns and the account's groups, filled in with
    the import's mapping (guessed at upload, or as chosen last time)."""
    data = {f: str(imp.mapping[f]) if f in imp.mapping else "" for f in FIELDS}
    data.update(dedupe=imp.dedupe or "skip", group_id=imp.group_id or "")
    form = MappingForm(formdata=formdata, data=data) if formdata is not None else MappingForm(data=data)
    columns = [NOT_IMPORTED, *(SelectChoice(str(i), name) for i, name in enumerate(imp.columns))]
    for name in FIELDS:
        form[name].choices = columns
    group_page = groups.list_groups(current_user.account, 1, 1000)
    form.group_id.choices = [SelectChoice("", "— no group —"), *(SelectChoice(g.id, g.name) for g in group_page.items)]
    return form


def _chosen(form: MappingForm) -> dict:
    return {name: form[name].data for name in FIELDS if form[name].data not in (None, "")}


def _field_of(exc: ServiceError) -> str | None:
    named = [f["loc"][-1] for f in exc.fields if f.get("loc")]
    return named[0] if named and named[0] in (*FIELDS, "group_id") else None
