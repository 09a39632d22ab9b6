"""Signing in and out, password resets, and the set-password link of an invitation: Django's own
views (django-axes counts their failed logins), in the console's pages."""

from django.contrib.auth import views as auth_views
from django.urls import reverse_lazy


class LoginView(auth_views.LoginView):
    template_name = "console/auth/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    pass


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "console/auth/password_reset.html"
    email_template_name = "console/auth/password_reset_email.txt"
    subject_template_name = "console/auth/password_reset_subject.txt"
    success_url = reverse_lazy("console:password-reset-done")


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "console/auth/password_reset_done.html"


class SetPasswordView(auth_views.PasswordResetConfirmView):
    """The link of an invitation or of a password reset: choose a password, then you are signed in."""

    template_name = "console/auth/set_password.html"
    post_reset_login = True
    post_reset_login_backend = "django.contrib.auth.backends.ModelBackend"
    success_url = reverse_lazy("console:home")
