"""The signed-in overview and the public API reference."""
from __future__ import annotations

from flask import render_template
from flask_login import current_user

from app.api.openapi import openapi_document
from app.dashboard import dashboard
from app.dashboard.access import EVERYONE, public, role_required
from app.dashboard.pages import render
from app.services.usage import service_status


@dashboard.get("/")
@role_required(*EVERYONE)
def home():
    account = current_user.account
    return render("home/index.html", "home/_overview.html", account=account, status=service_status(account))


@dashboard.get("/docs")
@public
def docs():
    return render_template("docs/index.html", spec=openapi_document())
