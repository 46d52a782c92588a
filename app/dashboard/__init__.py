"""The browser front door. For now: the home page and the rendered API reference."""
from __future__ import annotations

from flask import Blueprint, render_template

from app.api.openapi import openapi_document

dashboard = Blueprint("dashboard", __name__)


@dashboard.get("/")
def home():
    return render_template("home/index.html")


@dashboard.get("/docs")
def docs():
    return render_template("docs/index.html", spec=openapi_document())
