"""The forms a first-party mini-app page can carry (a health declaration, a repair request, a
donation pledge…): their questions and the checks a submission must pass.

Pure: no database. A runtime's `form` setting names one of FORMS; the shell's submission service
stores what `clean()` returns. Labels and choice labels are English msgids, shown translated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Literal

from townsquare.core.i18n import N_, format_money, gettext
from townsquare.core.text import CONTROL, LINE_CONTROL

QuestionType = Literal["text", "phone", "textarea", "choice", "date", "temperature", "count",
                       "money"]
_PHONE = re.compile(r"^1[3-9][0-9]{9}$|^0[0-9]{2,3}-?[0-9]{7,8}$")
_TEMPERATURE = re.compile(r"^[0-9]{2}(\.[0-9])?$")
_YUAN = re.compile(r"^[0-9]{1,9}(\.[0-9]{1,2})?$")


@dataclass(frozen=True)
class Question:
    name: str
    label: str  # English msgid
    type: QuestionType = "text"
    required: bool = True
    choices: tuple[tuple[str, str], ...] = ()  # (value, English msgid)
    max_length: int = 40
    minimum: int = 0  # count: whole number range; money: fen range; date: days from today
    maximum: int = 0
    hint: str = ""  # English msgid shown under the field


@dataclass(frozen=True)
class FormSpec:
    kind: str
    title: str  # English msgid
    submit: str  # the button's English msgid
    done: str  # the confirmation's English msgid
    questions: tuple[Question, ...]

    def choice_label(self, name: str, value: str) -> str:
        """A stored choice as people read it (translated)."""
        for question in self.questions:
            if question.name == name:
                return gettext(dict(question.choices).get(value, value))
        return value


NAME = Question("name", N_("Your name"), max_length=20)
PHONE = Question("phone", N_("Mobile phone"), "phone")
ADDRESS = Question("address", N_("Address (building, unit, room)"), max_length=80)
SYMPTOMS = Question("symptoms", N_("Symptoms"), "choice", choices=(
    ("none", N_("None")), ("fever", N_("Fever")), ("cough", N_("Cough or sore throat")),
    ("other", N_("Other discomfort"))))
TEMPERATURE = Question("temperature", N_("Body temperature (°C)"), "temperature",
                       hint=N_("For example 36.5"))
NOTE = Question("note", N_("Anything else"), "textarea", required=False, max_length=300)

FORMS: dict[str, FormSpec] = {spec.kind: spec for spec in (
    FormSpec("health_checkin", N_("Today's health check-in"), N_("Check in"),
             N_("Checked in for today. Thank you, and stay well."),
             (NAME, TEMPERATURE, SYMPTOMS,
              Question("contact", N_("Contact with a confirmed or suspected case in 14 days"),
                       "choice", choices=(("no", N_("No")), ("yes", N_("Yes")))),
              NOTE)),
    FormSpec("code_appeal", N_("Appeal your code colour"), N_("Send the appeal"),
             N_("Appeal received. It is checked within 24 hours; if it is upheld your code "
                "changes by itself."),
             (NAME, PHONE,
              Question("colour", N_("Colour shown now"), "choice", choices=(
                  ("yellow", N_("Yellow")), ("red", N_("Red")))),
              Question("reason", N_("Why you think it is wrong"), "textarea", max_length=300))),
    FormSpec("return_registration", N_("Registration on returning home"), N_("Register"),
             N_("Registered. Your community will contact you about health monitoring."),
             (NAME, PHONE,
              Question("from_city", N_("Coming from (city)"), max_length=20),
              Question("arrival", N_("Arrival date"), "date", minimum=-14, maximum=30),
              Question("transport", N_("Means of travel"), "choice", choices=(
                  ("train", N_("Train")), ("plane", N_("Plane")), ("car", N_("Car")),
                  ("coach", N_("Coach")))),
              Question("trip_no", N_("Train or flight number"), required=False, max_length=12),
              ADDRESS)),
    FormSpec("quarantine_report", N_("Home quarantine report"), N_("Send the report"),
             N_("Report received. Your community worker will call you today."),
             (NAME, PHONE, ADDRESS,
              Question("started", N_("Quarantine started on"), "date", minimum=-21, maximum=0),
              TEMPERATURE, SYMPTOMS,
              Question("needs", N_("What you need (food, medicine, rubbish collection…)"),
                       "textarea", required=False, max_length=300))),
    FormSpec("repair_request", N_("Repair request"), N_("Send the request"),
             N_("Request received. A repairer will call you to agree a time."),
             (Question("kind", N_("What needs repair"), "choice", choices=(
                 ("water", N_("Water pipes or taps")), ("power", N_("Electricity")),
                 ("door", N_("Doors, windows or locks")), ("gas", N_("Gas")),
                 ("lift", N_("The lift")), ("other", N_("Something else")))),
              ADDRESS,
              Question("problem", N_("What is wrong"), "textarea", max_length=300),
              PHONE,
              Question("when", N_("Preferred time"), "choice", choices=(
                  ("morning", N_("Morning")), ("afternoon", N_("Afternoon")),
                  ("evening", N_("Evening")))))),
    FormSpec("ticket_refund", N_("Refund or change request"), N_("Send the request"),
             N_("Request received. The refund goes back the way you paid within 7 working "
                "days."),
             (NAME, PHONE,
              Question("trip_no", N_("Flight or train number"), max_length=12),
              Question("travel_date", N_("Travel date"), "date", minimum=-30, maximum=180),
              Question("wish", N_("What you want"), "choice", choices=(
                  ("refund", N_("Full refund")), ("change", N_("Change the date")))),
              NOTE)),
    FormSpec("hotel_cancellation", N_("Cancel a booking"), N_("Cancel the booking"),
             N_("Cancellation received. The hotel refunds the deposit in full."),
             (NAME, PHONE,
              Question("booking_no", N_("Booking number"), max_length=20),
              Question("check_in", N_("Check-in date"), "date", minimum=-7, maximum=365),
              NOTE)),
    FormSpec("mask_reservation", N_("Reserve masks"), N_("Reserve"),
             N_("Reserved. Collect your masks with your ID card at the pharmacy you chose."),
             (NAME, PHONE,
              Question("quantity", N_("Number of masks"), "count", minimum=1, maximum=5,
                       hint=N_("At most 5 per person per reservation")),
              Question("pickup", N_("Collection day"), "date", minimum=0, maximum=7))),
    FormSpec("volunteer_signup", N_("Volunteer sign-up"), N_("Sign up"),
             N_("Thank you for signing up. The volunteer team will call you before your first "
                "shift."),
             (NAME, PHONE,
              Question("role", N_("How you would like to help"), "choice", choices=(
                  ("delivery", N_("Delivering supplies")), ("gate", N_("Gate duty")),
                  ("calls", N_("Phone check-ins with older residents")),
                  ("driving", N_("Driving")))),
              Question("days", N_("Days a week you can give"), "count", minimum=1, maximum=7),
              NOTE)),
    FormSpec("material_pledge", N_("Pledge supplies"), N_("Pledge"),
             N_("Pledge received. We will call you to arrange collection."),
             (Question("donor", N_("Donor (person or company)"), max_length=40), PHONE,
              Question("item", N_("Supplies"), "choice", choices=(
                  ("masks", N_("Masks")), ("suits", N_("Protective suits")),
                  ("disinfectant", N_("Disinfectant")), ("food", N_("Food")),
                  ("thermometers", N_("Thermometers")))),
              Question("quantity", N_("Quantity"), "count", minimum=1, maximum=1_000_000),
              NOTE)),
    FormSpec("order_request", N_("Order for delivery"), N_("Send the order"),
             N_("Order received. The shop calls you to confirm the goods and the price before "
                "delivering; you pay on delivery."),
             (Question("items", N_("What you would like (goods and amounts)"), "textarea",
                       max_length=500),
              ADDRESS, PHONE,
              Question("when", N_("Delivery time"), "choice", choices=(
                  ("morning", N_("Morning")), ("afternoon", N_("Afternoon")),
                  ("evening", N_("Evening")))))),
    FormSpec("home_service", N_("Book a visit"), N_("Book"),
             N_("Booked. We will call you to confirm the visit."),
             (NAME, PHONE, ADDRESS,
              Question("day", N_("Day of the visit"), "date", minimum=0, maximum=30),
              NOTE)),
    FormSpec("course_signup", N_("Sign up for a session"), N_("Sign up"),
             N_("Signed up. The link to the session is sent to your phone the day before."),
             (NAME, PHONE,
              Question("session", N_("Session"), "choice", choices=(
                  ("weekday", N_("Weekday evenings")), ("weekend", N_("Weekend mornings")))),
              NOTE)),
    FormSpec("consult_request", N_("Ask for a consultation"), N_("Send"),
             N_("Sent. A doctor answers within the consultation hours, in the order requests "
                "arrive."),
             (NAME,
              Question("age", N_("Age"), "count", minimum=0, maximum=120),
              Question("complaint", N_("Describe the problem"), "textarea", max_length=500),
              PHONE)),
    FormSpec("pledge", N_("Donate"), N_("Pledge the donation"),
             N_("Thank you. Your pledge is counted; we will call you to complete the donation."),
             (Question("amount", N_("Amount (yuan)"), "money", minimum=1_00, maximum=100_000_00),
              Question("donor", N_("Name shown (leave empty to stay anonymous)"),
                       required=False, max_length=20),
              PHONE,
              Question("message", N_("A word of encouragement"), "textarea", required=False,
                       max_length=100))),
)}

CHOICE_LABELS = {kind: spec.title for kind, spec in FORMS.items()}


def _answer(question: Question, raw: str, today: date) -> str | int | None:
    """The cleaned answer (None when empty); raises ValueError with a translated problem."""
    value = (raw or "").strip()
    if value == "":
        return None
    if question.type != "textarea" and LINE_CONTROL.search(value):
        raise ValueError(gettext("Remove the control characters."))
    if CONTROL.search(value):
        raise ValueError(gettext("Remove the control characters."))
    if question.type in ("text", "textarea"):
        if len(value) > question.max_length:
            raise ValueError(gettext("At most {n} characters.").format(n=question.max_length))
        return value
    if question.type == "phone":
        value = value.replace(" ", "")
        if not _PHONE.match(value):
            raise ValueError(gettext("Enter an 11-digit mobile number or a landline number."))
        return value
    if question.type == "choice":
        if value not in dict(question.choices):
            raise ValueError(gettext("Choose one of the offered options."))
        return value
    if question.type == "date":
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise ValueError(gettext("Enter a date such as {day}.").format(
                day=today.isoformat())) from None
        first = today + timedelta(days=question.minimum)
        last = today + timedelta(days=question.maximum)
        if not first <= day <= last:
            raise ValueError(gettext("Choose a day from {first} to {last}.").format(
                first=first.isoformat(), last=last.isoformat()))
        return day.isoformat()
    if question.type == "temperature":
        if not _TEMPERATURE.match(value) or not 34 <= float(value) <= 43:
            raise ValueError(gettext("Enter a temperature from 34.0 to 43.0."))
        return f"{float(value):.1f}"
    if question.type == "count":
        value = value.translate({ord("０") + i: ord("0") + i for i in range(10)})
        if not re.fullmatch(r"[0-9]{1,9}", value) or not (
                question.minimum <= int(value) <= question.maximum):
            raise ValueError(gettext("Enter a whole number from {low} to {high}.").format(
                low=question.minimum, high=question.maximum))
        return int(value)
    # money: yuan typed, fen kept
    text = value.replace("¥", "").replace("￥", "").replace(",", "")
    try:
        if not _YUAN.match(text):
            raise InvalidOperation
        fen = int(Decimal(text) * 100)
    except InvalidOperation:
        raise ValueError(gettext("Enter an amount in yuan, such as 50 or 12.50.")) from None
    if not question.minimum <= fen <= question.maximum:
        raise ValueError(gettext("Enter an amount from {low} to {high}.").format(
            low=format_money(question.minimum), high=format_money(question.maximum)))
    return fen


def clean(spec: FormSpec, raw: dict[str, str], *, today: date
          ) -> tuple[dict[str, str | int], dict[str, str]]:
    """(answers, problems): the cleaned answers, and a translated problem per bad field."""
    answers: dict[str, str | int] = {}
    problems: dict[str, str] = {}
    for question in spec.questions:
        try:
            value = _answer(question, raw.get(question.name, ""), today)
        except ValueError as bad:
            problems[question.name] = str(bad)
            continue
        if value is None:
            if question.required:
                problems[question.name] = gettext("Please fill this in.")
            continue
        answers[question.name] = value
    return answers, problems
