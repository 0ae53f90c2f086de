"""factory_boy factories for users, parcels, events and webhook endpoints."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from parcel_service.domain.status_machine import ParcelStatus
from parcel_service.domain.tracking_numbers import TrackingNumberGenerator
from parcel_service.domain.webhooks import new_secret
from parcel_service.models import CARRIERS_GROUP, Parcel, TrackingEvent, WebhookEndpoint, WebhookEventType

_generate = TrackingNumberGenerator("CP", "NL")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery staple")

    @factory.post_generation
    def carrier(self, create: bool, extracted: bool, **kwargs: object) -> None:
        if create and extracted:
            self.groups.add(Group.objects.get_or_create(name=CARRIERS_GROUP)[0])
        if create:
            self.save()


def address(name: str = "Ada Lovelace", country: str = "NL") -> dict[str, str]:
    return {
        "name": name,
        "company": "",
        "street": "Damrak 1",
        "street2": "",
        "city": "Amsterdam",
        "postal_code": "1012 LG",
        "country": country,
        "email": "",
        "phone": "",
    }


class ParcelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Parcel

    owner = factory.SubFactory(UserFactory)
    tracking_number = factory.LazyFunction(_generate)
    status = ParcelStatus.PENDING
    reference = factory.Sequence(lambda n: f"REF-{n}")
    sender_name = "Sender BV"
    sender_street = "Keizersgracht 1"
    sender_city = "Amsterdam"
    sender_postal_code = "1015 CJ"
    sender_country = "NL"
    recipient_name = factory.Faker("name")
    recipient_street = "Unter den Linden 1"
    recipient_city = "Berlin"
    recipient_postal_code = "10117"
    recipient_country = "DE"
    weight_grams = 1200
    created_at = factory.LazyFunction(timezone.now)
    updated_at = factory.LazyAttribute(lambda p: p.created_at)


class TrackingEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TrackingEvent

    parcel = factory.SubFactory(ParcelFactory)
    status = ParcelStatus.IN_TRANSIT
    location = "Amsterdam hub"
    occurred_at = factory.LazyFunction(timezone.now)
    recorded_at = factory.LazyFunction(timezone.now)

    @factory.lazy_attribute
    def sequence(self) -> int:
        # As the service does: the parcel's version after the event bumps it, so the event sorts last.
        parcel = self.parcel
        parcel.version += 1
        Parcel.objects.filter(pk=parcel.pk).update(version=parcel.version)
        return parcel.version


class WebhookEndpointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WebhookEndpoint

    owner = factory.SubFactory(UserFactory)
    url = "https://hooks.example.com/parcels"
    events = factory.LazyFunction(lambda: [t.value for t in WebhookEventType])
    secret = factory.LazyFunction(new_secret)
