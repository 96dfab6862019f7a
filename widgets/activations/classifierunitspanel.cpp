#include "widgets/activations/classifierunitspanel.h"

#include "widgets/common/dissectionview.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QSpinBox>
#include <QVBoxLayout>

namespace pellucid {

ClassifierUnitsPanel::ClassifierUnitsPanel(QWidget *parent) : QWidget(parent)
{
    auto *l = new QVBoxLayout(this);
    mView = new DissectionView(this);
    auto *bar = new QHBoxLayout;
    mLayer = new QLabel(this);
    mItems = new QSpinBox(this);
    mItems->setRange(10, 70000);
    mItems->setValue(500);
    mItems->setSuffix(tr(" items"));
    mItems->setToolTip(tr("The first items of the open dataset"));
    mDissect = new QPushButton(tr("Dissect over the dataset"), this);
    bar->addWidget(mLayer);
    bar->addWidget(mItems);
    bar->addWidget(new QLabel(tr("sort by effect on"), this));
    bar->addWidget(mView->sortChooser());
    bar->addWidget(mDissect);
    bar->addStretch(1);
    l->addLayout(bar);
    mStatus = new QLabel(tr("Which units of the selected layer the classifier's verdict on each class depends on: open a labelled dataset "
                            "(Dataset dock), select a layer, then dissect."),
                         this);
    mStatus->setWordWrap(true);
    l->addWidget(mStatus);
    l->addWidget(mView, 1);
    connect(mDissect, &QPushButton::clicked, this, &ClassifierUnitsPanel::dissectRequested);
    connect(mView, &DissectionView::resorted, this, [this] {
        if (mView->hasUnits()) mStatus->setText(mView->summary());
    });
    setContext({}, false);
}

void ClassifierUnitsPanel::setContext(const QString &layer, bool haveDataset)
{
    mLayer->setText(layer.isEmpty() ? tr("Layer: none selected") : tr("Layer %1").arg(layer));
    mDissect->setEnabled(!layer.isEmpty() && haveDataset);
    mDissect->setToolTip(haveDataset ? QString() : tr("Open a labelled dataset in the Dataset dock first"));
}

int ClassifierUnitsPanel::itemLimit() const { return mItems->value(); }

void ClassifierUnitsPanel::showStatus(const QString &message) { mStatus->setText(message.toHtmlEscaped()); }

void ClassifierUnitsPanel::showError(const QString &message)
{
    mStatus->setText(QString("<span style='color:#b00'>%1</span>").arg(message.toHtmlEscaped()));
}

}   // namespace pellucid
