"""Clinic settings, accounts and members: the admin pages' input shapes (validated by ``forms.parse_form``)."""

from __future__ import annotations

import re
from typing import Annotated
from zoneinfo import available_timezones

from pydantic import ValidationInfo, field_validator
from sqlmodel import Field, SQLModel

from rehab.services.passwords import password_problem
from rehab.services.shapes import plain_text
from rehab.vocabulary import OneOf, PaperSize, SpeedUnit

EMERGENCY_NUMBER = re.compile(r"^[0-9][0-9 ]{1,9}$")


class ClinicForm(SQLModel):
    name: str = Field(min_length=1, max_length=120)
    address: str = Field(default="", max_length=300)
    phone: str = Field(default="", max_length=40)
    emergency_number: str = Field(default="911", max_length=20)
    paper_size: Annotated[str, OneOf(PaperSize)] = PaperSize.LETTER
    speed_unit: Annotated[str, OneOf(SpeedUnit)] = SpeedUnit.KMH
    timezone: str = Field(default="UTC", max_length=64)

    @field_validator("name", "address")
    @classmethod
    def _plain_text(cls, value: str) -> str:
        return plain_text(value) if value else value

    @field_validator("phone")
    @classmethod
    def _phone_given(cls, value: str) -> str:
        # Every sheet and patient page says "stop and call the clinic": without a number that is no instruction.
        if not value.strip():
            raise ValueError("Enter the clinic's phone number: sheets and the patient's page tell patients to call it.")
        return plain_text(value)

    @field_validator("emergency_number")
    @classmethod
    def _emergency_number(cls, value: str) -> str:
        if not EMERGENCY_NUMBER.match(value.strip()):
            raise ValueError("Enter the emergency number patients call, in digits, for example 911, 112 or 999.")
        return value.strip()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value not in available_timezones():
            raise ValueError("Choose a time zone from the list, for example America/Chicago.")
        return value


class UserForm(SQLModel):
    name: str = Field(min_length=1, max_length=120)
    email: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=128)
    is_admin: bool = False

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        return plain_text(value)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        value = value.strip().lower()
        if "@" not in value or " " in value or "<" in value or value.startswith("@") or value.endswith("@"):
            raise ValueError("Enter an email address like name@example.com.")
        return value

    @field_validator("password")
    @classmethod
    def _policy(cls, value: str, info: ValidationInfo) -> str:
        problem = password_problem(value, email=info.data.get("email", ""), name=info.data.get("name", ""))
        if problem:
            raise ValueError(problem)
        return value


class NewClinicForm(SQLModel):
    """A clinic added by an admin; its address, paper and time zone are set under Clinic settings."""

    name: str = Field(min_length=1, max_length=120)

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        return plain_text(value)


class MemberForm(SQLModel):
    """An existing account added to a clinic, by its email."""

    email: str = Field(min_length=1, max_length=254)
    is_admin: bool = False

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return UserForm._email(value)
